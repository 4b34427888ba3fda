//! Rasters to egui textures, drawn crisp (nearest-neighbour) at any size.

use egui::{ColorImage, TextureHandle, TextureOptions};

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
            Some(h) => h.set(image, TextureOptions::NEAREST),
            None => self.handle = Some(ctx.load_texture(name, image, TextureOptions::NEAREST)),
        }
    }

    pub fn get(&self) -> Option<&TextureHandle> {
        self.handle.as_ref()
    }
}
