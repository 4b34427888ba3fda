//! Rasters to egui textures: crisp (nearest-neighbour) when enlarged, averaged (mipmaps)
//! when shrunk, so that a grid of tiles drawn smaller than its raster keeps every tile
//! and every separator even (nearest-neighbour dropped every other separator line).

use egui::{ColorImage, TextureFilter, TextureHandle, TextureOptions};

const OPTIONS: TextureOptions = TextureOptions {
    magnification: TextureFilter::Nearest,
    minification: TextureFilter::Linear,
    mipmap_mode: Some(TextureFilter::Linear),
    ..TextureOptions::NEAREST
};

use crate::picture::Raster;

fn color_image(r: &Raster) -> ColorImage {
    ColorImage::from_rgba_unmultiplied([r.width, r.height], &r.rgba)
}

/// A texture that is created on first use and updated in place afterwards.
#[derive(Default)]
pub struct Texture {
    handle: Option<TextureHandle>,
}

impl Texture {
    pub fn set(&mut self, ctx: &egui::Context, name: &str, r: &Raster) {
        let image = color_image(r);
        match &mut self.handle {
            Some(h) => h.set(image, OPTIONS),
            None => self.handle = Some(ctx.load_texture(name, image, OPTIONS)),
        }
    }

    pub fn get(&self) -> Option<&TextureHandle> {
        self.handle.as_ref()
    }
}
