//! How often the background workers may make the window repaint. Under software GL
//! (Mesa's llvmpipe, as under Xvfb or without a GPU driver) every frame rasterises the
//! whole window on the CPU, the CPU training needs: there the window repaints for the
//! workers at most a few times a second. Input (the mouse, keys) repaints at once,
//! whatever the pace.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::train::protocol::Waker;

/// With a GPU: smooth enough to watch the losses fall.
const GPU_INTERVAL: Duration = Duration::from_millis(50);
/// Under software GL, where a frame of this window costs tens of milliseconds of CPU.
const SOFTWARE_INTERVAL: Duration = Duration::from_millis(250);

/// The time of the last frame, shared between the UI thread and the wakers.
#[derive(Clone)]
pub struct Pacing {
    start: Instant,
    last_frame_ms: Arc<AtomicU64>,
    interval: Duration,
}

impl Pacing {
    /// The pace for this window: slow when it is drawn by a software rasteriser
    /// (Mesa's llvmpipe, as under Xvfb), where every frame costs the training CPU time.
    pub fn for_window(cc: &eframe::CreationContext<'_>) -> Self {
        use eframe::glow::HasContext;
        Self::new(cc.gl.as_ref().is_some_and(|gl| {
            // SAFETY: a plain query of a string on the context eframe made current for us.
            let renderer = unsafe { gl.get_parameter_string(eframe::glow::RENDERER) };
            log::info!("GL renderer: {renderer}");
            Self::is_software(&renderer)
        }))
    }

    pub fn new(software: bool) -> Self {
        Self {
            start: Instant::now(),
            last_frame_ms: Arc::new(AtomicU64::new(0)),
            interval: if software {
                SOFTWARE_INTERVAL
            } else {
                GPU_INTERVAL
            },
        }
    }

    /// Whether the GL renderer is a software rasteriser.
    pub fn is_software(renderer: &str) -> bool {
        let r = renderer.to_ascii_lowercase();
        ["llvmpipe", "softpipe", "swrast", "software"]
            .iter()
            .any(|s| r.contains(s))
    }

    /// Call at every frame.
    pub fn frame(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_frame_ms.store(ms, Ordering::Relaxed);
    }

    /// How long a wake now should wait so that frames keep `interval` apart.
    fn delay(&self) -> Duration {
        let since = self.start.elapsed().saturating_sub(Duration::from_millis(
            self.last_frame_ms.load(Ordering::Relaxed),
        ));
        // Never zero: `request_repaint` (a zero delay) paints twice.
        self.interval
            .saturating_sub(since)
            .max(Duration::from_millis(1))
    }

    /// A waker for the workers: a repaint, no sooner than the pace allows.
    pub fn waker(&self, ctx: egui::Context) -> Waker {
        let pacing = self.clone();
        Arc::new(move || ctx.request_repaint_after(pacing.delay()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wakes_wait_for_the_pace_and_software_renderers_are_told_apart() {
        let p = Pacing::new(true);
        p.frame();
        let d = p.delay();
        assert!(
            d > Duration::from_millis(200) && d <= SOFTWARE_INTERVAL,
            "{d:?}"
        );
        let fast = Pacing::new(false);
        assert!(fast.delay() <= GPU_INTERVAL);
        assert!(Pacing::is_software("llvmpipe (LLVM 15.0.6, 256 bits)"));
        assert!(!Pacing::is_software(
            "AMD Radeon Graphics (radeonsi, gfx1103)"
        ));
    }
}
