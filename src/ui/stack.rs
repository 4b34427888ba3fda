//! The drawing of the stack (784-300-150-300-784, or K stages of any widths): which
//! weights the shown phase trains, which it keeps frozen, and which it bypasses
//! (fine-tuning and end-to-end train them all).

use egui::epaint::QuadraticBezierShape;
use egui::{Align2, Color32, FontId, Painter, Pos2, Rect, Sense, Shape, Stroke, Ui, pos2, vec2};

use super::theme::{FROZEN, TRAINS};
use crate::model::{Arch, Noise, Phase};

#[derive(Debug, Clone, Copy)]
pub struct StackView {
    pub arch: Arch,
    /// The phase to show; `None` draws the bare stack.
    pub phase: Option<Phase>,
    pub running: bool,
    /// How each layer-wise phase corrupts its input (drawn at the input it corrupts).
    pub noise: Noise,
}

/// How a weight matrix takes part in the shown phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Trains,
    Frozen,
    Bypassed,
    Plain,
}

/// Each dense layer's role in `phase`, for a stack of `depth` autoencoders.
fn roles(phase: Option<Phase>, depth: usize) -> Vec<Role> {
    let layers = 2 * depth;
    (0..layers)
        .map(|j| match phase {
            None => Role::Plain,
            Some(Phase::FineTune | Phase::EndToEnd) => Role::Trains,
            Some(Phase::Layer(k)) => {
                let k = k as usize;
                let dec = layers - k;
                match j {
                    j if j + 1 < k => Role::Frozen,
                    j if j + 1 == k => Role::Trains,
                    // The mirror layer reads h(k) directly unless it is next to it:
                    // then it is drawn as the bypass arc over the middle.
                    j if j == dec && dec == k => Role::Trains,
                    _ => Role::Bypassed,
                }
            }
        })
        .collect()
}

/// Each bar's name: the input, hidden1 .. hidden(2K-1) with the code in the middle,
/// the output; short ("in", "h1", .., "out") from four stages on, where the bars are
/// too close for the long ones.
fn names(depth: usize) -> Vec<String> {
    let short = depth >= 4;
    (0..=2 * depth)
        .map(|j| match j {
            0 if short => "in".to_string(),
            0 => "input".to_string(),
            j if j == depth => "code".to_string(),
            j if j == 2 * depth && short => "out".to_string(),
            j if j == 2 * depth => "output".to_string(),
            j if short => format!("h{j}"),
            j => format!("hidden{j}"),
        })
        .collect()
}

const MAX_BAR_HEIGHT: f32 = 84.0;

/// Where the layers are drawn: one bar each, height proportional to width.
struct Layout {
    rect: Rect,
    bars: Vec<Rect>,
    sizes: Vec<usize>,
    names: Vec<String>,
    mid_y: f32,
    arch: Arch,
}

impl Layout {
    fn new(rect: Rect, arch: Arch) -> Self {
        let sizes: Vec<usize> = (0..=arch.layers()).map(|j| arch.activation(j)).collect();
        let widest = sizes.iter().copied().max().unwrap_or(1).max(1);
        let n = sizes.len() as f32;
        let (bar_w, margin) = (if n > 7.0 { 12.0 } else { 16.0 }, 20.0);
        let mid_y = rect.top() + 34.0 + MAX_BAR_HEIGHT / 2.0;
        let gap = (rect.width() - 2.0 * margin - n * bar_w) / (n - 1.0);
        let bars = sizes
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                let h = (MAX_BAR_HEIGHT * w as f32 / widest as f32).max(6.0);
                let x = rect.left() + margin + i as f32 * (bar_w + gap);
                Rect::from_min_size(pos2(x, mid_y - h / 2.0), vec2(bar_w, h))
            })
            .collect();
        Self {
            rect,
            bars,
            sizes,
            names: names(arch.depth()),
            mid_y,
            arch,
        }
    }
}

pub fn stack_ui(ui: &mut Ui, view: StackView) {
    let width = ui.available_width().min(330.0);
    let (resp, painter) = ui.allocate_painter(vec2(width, 165.0), Sense::hover());
    let layout = Layout::new(resp.rect, view.arch);
    let visuals = ui.visuals();
    let (text, weak) = (visuals.text_color(), visuals.weak_text_color());
    let faint = visuals.faint_bg_color;
    bands(
        &painter,
        &layout,
        view.phase,
        visuals.widgets.inactive.bg_fill,
        faint,
        weak,
    );
    let depth = view.arch.depth();
    let last = 2 * depth;
    match view.phase {
        // h(k) -> the mirror layer's output directly, over the bypassed middle: W4
        // reading hidden1 in the recipe's phase 1.
        Some(Phase::Layer(k)) if (k as usize) < depth => {
            let k = k as usize;
            let dec = last - k;
            let caption = format!("W{} reads {} directly", dec + 1, layout.names[k]);
            let stroke = Stroke::new(4.0, TRAINS);
            arc(
                &painter,
                &layout,
                (k, dec + 1),
                &caption,
                stroke,
                false,
                text,
            );
        }
        // The innermost phase: its output must reconstruct the frozen level below (the
        // recipe's phase 2: hidden3 = hidden1).
        Some(Phase::Layer(k)) => {
            let k = k as usize;
            let out = last - k + 1;
            let (a, b) = (&layout.names[out], &layout.names[k - 1]);
            let caption = format!("target: {a} = {b}");
            let stroke = Stroke::new(1.5, text);
            arc(
                &painter,
                &layout,
                (out, k - 1),
                &caption,
                stroke,
                true,
                text,
            );
        }
        // Every layer trains; the output must reconstruct the input.
        Some(Phase::FineTune | Phase::EndToEnd) => arc(
            &painter,
            &layout,
            (last, 0),
            "target: output = input",
            Stroke::new(1.5, text),
            true,
            text,
        ),
        None => {}
    }
    layers(&painter, &layout, view.phase, text, weak);
    legend_ui(ui, view, faint, weak);
}

/// The weight matrices between the layers, coloured by their role.
fn bands(
    painter: &Painter,
    layout: &Layout,
    phase: Option<Phase>,
    plain: Color32,
    faint: Color32,
    weak: Color32,
) {
    let depth = (layout.bars.len() - 1) / 2;
    for (i, role) in roles(phase, depth).into_iter().enumerate() {
        let (a, b) = (layout.bars[i], layout.bars[i + 1]);
        let band = vec![
            a.right_top(),
            b.left_top(),
            b.left_bottom(),
            a.right_bottom(),
        ];
        let (fill, stroke) = match role {
            Role::Trains => (TRAINS, Stroke::NONE),
            Role::Frozen => (FROZEN, Stroke::NONE),
            Role::Bypassed => (faint, Stroke::new(1.0, weak)),
            Role::Plain => (plain, Stroke::NONE),
        };
        painter.add(Shape::convex_polygon(band, fill, stroke));
        if let Some(e) = layout.arch.tied_to(i) {
            // A tied decoder matrix is its mirror's transpose: named so on the band.
            let at = pos2((a.right() + b.left()) / 2.0, layout.mid_y);
            let font = FontId::proportional(10.0);
            let name = format!("W{}^T", e + 1);
            painter.text(at, Align2::CENTER_CENTER, name, font, weak);
        }
    }
}

/// An arc over the stack from layer `from` to layer `to`, its top just under its
/// caption.
fn arc(
    painter: &Painter,
    layout: &Layout,
    (from, to): (usize, usize),
    caption: &str,
    stroke: Stroke,
    dashed: bool,
    text: Color32,
) {
    let (from, to) = (layout.bars[from].center_top(), layout.bars[to].center_top());
    let peak = layout.rect.top() + 20.0;
    let ctrl = pos2((from.x + to.x) / 2.0, (4.0 * peak - from.y - to.y) / 2.0);
    let curve = QuadraticBezierShape::from_points_stroke(
        [from, ctrl, to],
        false,
        Color32::TRANSPARENT,
        stroke,
    );
    if dashed {
        let points: Vec<Pos2> = (0..=24).map(|t| curve.sample(t as f32 / 24.0)).collect();
        painter.extend(Shape::dashed_line(&points, stroke, 5.0, 4.0));
    } else {
        painter.add(curve);
    }
    painter.text(
        pos2(ctrl.x, peak - 3.0),
        Align2::CENTER_BOTTOM,
        caption,
        FontId::proportional(11.0),
        text,
    );
}

/// The layers as bars with their names and widths below.
fn layers(painter: &Painter, layout: &Layout, phase: Option<Phase>, text: Color32, weak: Color32) {
    for (i, bar) in layout.bars.iter().enumerate() {
        // The frozen levels a layer-wise phase k >= 2 reads its input through.
        let fill = match phase {
            Some(Phase::Layer(k)) if (1..k as usize).contains(&i) => FROZEN,
            _ => text.gamma_multiply(0.75),
        };
        painter.rect_filled(*bar, 3.0, fill);
        let below = layout.mid_y + MAX_BAR_HEIGHT / 2.0 + 3.0;
        painter.text(
            pos2(bar.center().x, below),
            Align2::CENTER_TOP,
            &layout.names[i],
            FontId::proportional(11.0),
            weak,
        );
        painter.text(
            pos2(bar.center().x, below + 14.0),
            Align2::CENTER_TOP,
            layout.sizes[i].to_string(),
            FontId::monospace(11.0),
            text,
        );
    }
}

/// Always drawn, so the layout below does not jump when a phase is previewed.
fn legend_ui(ui: &mut Ui, view: StackView, faint: Color32, weak: Color32) {
    ui.horizontal(|ui| {
        for (c, label) in [(TRAINS, "trains"), (FROZEN, "frozen"), (faint, "bypassed")] {
            let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
            ui.painter().rect_filled(rect, 2.0, c);
            ui.painter()
                .rect_stroke(rect, 2.0, Stroke::new(1.0, weak), egui::StrokeKind::Inside);
            ui.label(label);
        }
        if view.phase.is_some() && !view.running {
            ui.weak("(last phase)");
        }
    });
    if let Some(v) = variant_line(view) {
        ui.weak(v);
    }
}

/// What the stack is beyond its widths, in a line: activations, tying, noise.
fn variant_line(view: StackView) -> Option<String> {
    let a = view.arch;
    let mut parts = Vec::new();
    if !a.act.is_recipe() {
        parts.push(a.act.to_string());
    }
    if a.tied {
        parts.push("decoder weights tied (W^T)".to_string());
    }
    match view.phase {
        _ if view.noise.is_none() => {}
        Some(Phase::Layer(k)) => parts.push(format!(
            "denoising: {} on {}",
            view.noise,
            if k == 1 {
                "the input".to_string()
            } else {
                format!("hidden{}", k - 1)
            }
        )),
        Some(_) => parts.push(format!("denoising ({}) in layer-wise phases", view.noise)),
        None => parts.push(format!("denoising: {} on each phase's input", view.noise)),
    }
    (!parts.is_empty()).then(|| parts.join(" · "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Role::{Bypassed as B, Frozen as F, Trains as T};

    #[test]
    fn each_phase_trains_freezes_and_bypasses_its_layers_at_any_depth() {
        // The recipe's drawing: phase 1 trains W1 (W4 is the arc), phase 2 W2 and W3.
        assert_eq!(roles(Some(Phase::ONE), 2), [T, B, B, B]);
        assert_eq!(roles(Some(Phase::TWO), 2), [F, T, T, B]);
        // Three stages: phase 2's mirror W5 reads hidden2 over the bypassed middle.
        assert_eq!(roles(Some(Phase::Layer(2)), 3), [F, T, B, B, B, B]);
        assert_eq!(roles(Some(Phase::Layer(3)), 3), [F, F, T, T, B, B]);
        assert_eq!(roles(Some(Phase::FineTune), 3), [T; 6]);
        assert_eq!(
            names(3),
            [
                "input", "hidden1", "hidden2", "code", "hidden4", "hidden5", "output"
            ]
        );
    }
}
