//! Writing the exploration views as PNG files, for the app's Export menu and for
//! `layerwise export`.

use std::path::{Path, PathBuf};

use ndarray::Array2;

use crate::data::Images;
use crate::inspect;
use crate::model::Params;
use crate::picture::{self, PngError, Raster};

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{dir}: cannot create the folder: {source}")]
    CreateDir {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Png(#[from] PngError),
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

/// Writes the PNG files into `dir` (created if needed); returns their paths.
pub fn write_pngs(
    dir: &Path,
    p: &Params,
    test: &Images,
    indices: &[usize],
    class_means: &Array2<f32>,
) -> Result<Vec<PathBuf>, ExportError> {
    std::fs::create_dir_all(dir).map_err(|source| ExportError::CreateDir {
        dir: dir.display().to_string(),
        source,
    })?;
    rasters(p, test, indices, class_means)
        .into_iter()
        .map(|(name, r)| {
            let path = dir.join(name);
            r.save_png(&path).map(|()| path).map_err(ExportError::from)
        })
        .collect()
}
