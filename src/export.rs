//! Writing the exploration views as PNG files, for the app's Export menu and for
//! `layerwise export`.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::chart;
use crate::data::Images;
use crate::inspect;
use crate::model::Params;
use crate::picture::{self, PngError, Raster};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{dir}: cannot create the folder: {cause}")]
    CreateDir { dir: String, cause: std::io::Error },
    #[error(transparent)]
    Png(#[from] PngError),
    #[error("the code map: {0}")]
    Map(crate::space::PcaError),
    #[error("the walk: {0}")]
    Walk(crate::space::WidthError),
}

impl From<crate::space::PcaError> for ExportError {
    fn from(e: crate::space::PcaError) -> Self {
        Self::Map(e)
    }
}

impl From<crate::space::WidthError> for ExportError {
    fn from(e: crate::space::WidthError) -> Self {
        Self::Walk(e)
    }
}

/// Scale of the digits in `reconstructions.png`.
pub const DIGIT_SCALE: usize = 4;
/// Size of one code unit in the heatmaps, in pixels.
pub const CELL: (usize, usize) = (4, 16);

/// The rasters of the four PNG files, by file name.
pub fn rasters(
    p: &Params,
    test: &Images,
    indices: &[usize],
    class_means: &Array2<f32>,
) -> Vec<(&'static str, Raster)> {
    let recons = inspect::reconstruct(p, test, indices);
    let codes: Vec<&[f32]> = recons.iter().map(|r| r.code.as_slice()).collect();
    let means: Vec<&[f32]> = class_means
        .rows()
        .into_iter()
        .filter_map(|r| r.to_slice())
        .collect();
    vec![
        (
            "reconstructions.png",
            picture::reconstruction_grid(&recons, DIGIT_SCALE),
        ),
        (
            "codes.png",
            picture::heatmap(&codes, picture::color_scale(codes.iter().copied()))
                .scaled(CELL.0, CELL.1),
        ),
        (
            "class_means.png",
            picture::heatmap(&means, picture::color_scale(means.iter().copied()))
                .scaled(CELL.0, CELL.1),
        ),
        (
            "features.png",
            picture::feature_grid(&inspect::features(p), 20).scaled(2, 2),
        ),
    ]
}

/// Scale of the digits in `walk.png`.
pub const WALK_SCALE: usize = 3;

/// The code-space pictures: `code_map.png` (PCA of the test set's codes, coloured by
/// digit) and, given two images or more, `walk.png` (the walks between the first two).
pub fn space_rasters(
    p: &Params,
    test: &Images,
    images: &[usize],
) -> Result<Vec<(&'static str, Raster)>, ExportError> {
    use crate::explore::maps::{self, Layer, TestSet};
    let set = TestSet::new(test);
    let encoded = crate::space::encode(p, set.pixels.view())?;
    let codes = set.layer(&encoded, Layer::Code);
    let map = maps::pca_map(codes, set.labels.clone(), Layer::Code, None, String::new())?;
    let [a, b] = map.explained.unwrap_or_default();
    let title = format!(
        "PCA of the test codes: PC1 {:.1}%, PC2 {:.1}% of the variance",
        a * 100.0,
        b * 100.0
    );
    let note = format!(
        "{} points; nearest neighbour is the same digit: {:.1}%",
        map.len(),
        map.agreement.unwrap_or(0.0) * 100.0
    );
    let mut out = vec![(
        "code_map.png",
        chart::code_map(map.coords.view(), &set.labels, &title, &note),
    )];
    if let [from, to, ..] = *images {
        let row = |i: usize| set.pixels.row(i);
        let w = crate::space::walks(p, row(from), row(to), crate::explore::WALK_STEPS)?;
        let rows = [
            ("codes", w.code.view()),
            ("hidden1", w.hidden1.view()),
            ("pixels", w.pixels.view()),
        ];
        out.push(("walk.png", chart::walk_strips(&rows, WALK_SCALE)));
    }
    Ok(out)
}

/// Writes every view as a PNG file into `dir` (created if needed): the `rasters`, then
/// `code_map.png` and (given two images or more) `walk.png`; returns their paths. What
/// `layerwise export` and the app's export write.
pub fn write_pngs(
    dir: &Path,
    p: &Params,
    test: &Images,
    indices: &[usize],
    class_means: &Array2<f32>,
) -> Result<Vec<PathBuf>, ExportError> {
    create_dir(dir)?;
    let mut all = rasters(p, test, indices, class_means);
    all.extend(space_rasters(p, test, indices)?);
    all.into_iter()
        .map(|(name, r)| {
            let path = dir.join(name);
            r.save_png(&path).map(|()| path).map_err(ExportError::from)
        })
        .collect()
}

fn create_dir(dir: &Path) -> Result<(), ExportError> {
    std::fs::create_dir_all(dir).map_err(|cause| ExportError::CreateDir {
        dir: dir.display().to_string(),
        cause,
    })
}
