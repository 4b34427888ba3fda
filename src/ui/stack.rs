//! The drawing of the 784-300-150-300-784 stack: which weights the shown phase trains,
//! which it keeps frozen, and which it bypasses.

use egui::epaint::QuadraticBezierShape;
use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Ui, pos2, vec2};

use crate::model::{Arch, Phase};

pub const TRAINS: Color32 = Color32::from_rgb(235, 140, 40);
pub const FROZEN: Color32 = Color32::from_rgb(80, 140, 215);

#[derive(Debug, Clone, Copy)]
pub struct StackView {
    pub arch: Arch,
    /// The phase to show; `None` draws the bare stack.
    pub phase: Option<Phase>,
    pub running: bool,
}

/// How a weight matrix takes part in the shown phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Trains,
    Frozen,
    Bypassed,
    Plain,
}

fn roles(phase: Option<Phase>) -> [Role; 4] {
    match phase {
        None => [Role::Plain; 4],
        // W4 trains too, but on hidden1 directly: drawn as the bypass arc.
        Some(Phase::One) => [Role::Trains, Role::Bypassed, Role::Bypassed, Role::Bypassed],
        Some(Phase::Two) => [Role::Frozen, Role::Trains, Role::Trains, Role::Bypassed],
    }
}

pub fn stack_ui(ui: &mut Ui, view: StackView) {
    let width = ui.available_width().min(330.0);
    let (resp, painter) = ui.allocate_painter(vec2(width, 165.0), Sense::hover());
    let r = resp.rect;
    let visuals = ui.visuals();
    let text = visuals.text_color();
    let weak = visuals.weak_text_color();
    let plain = visuals.widgets.inactive.bg_fill;
    let faint = visuals.faint_bg_color;

    let Arch {
        inputs,
        hidden1,
        hidden2,
    } = view.arch;
    let sizes = [inputs, hidden1, hidden2, hidden1, inputs];
    let names = ["input", "hidden1", "code", "hidden3", "output"];
    let max_h = 84.0;
    let bar_w = 16.0;
    let margin = 20.0;
    let mid_y = r.top() + 34.0 + max_h / 2.0;
    let gap = (r.width() - 2.0 * margin - 5.0 * bar_w) / 4.0;
    let bars: Vec<Rect> = sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| {
            let h = (max_h * n as f32 / inputs.max(1) as f32).max(6.0);
            let x = r.left() + margin + i as f32 * (bar_w + gap);
            Rect::from_min_size(pos2(x, mid_y - h / 2.0), vec2(bar_w, h))
        })
        .collect();

    let role_colors = |role: Role| match role {
        Role::Trains => TRAINS,
        Role::Frozen => FROZEN,
        Role::Bypassed => faint,
        Role::Plain => plain,
    };
    for (i, role) in roles(view.phase).into_iter().enumerate() {
        let (a, b) = (bars[i], bars[i + 1]);
        let band = vec![
            a.right_top(),
            b.left_top(),
            b.left_bottom(),
            a.right_bottom(),
        ];
        let stroke = if role == Role::Bypassed {
            Stroke::new(1.0, weak)
        } else {
            Stroke::NONE
        };
        painter.add(Shape::convex_polygon(band, role_colors(role), stroke));
    }
    // An arc over the stack whose top sits just under its caption.
    let arc = |from: Pos2, to: Pos2, caption: &str, stroke: Stroke, dashed: bool| {
        let peak = r.top() + 20.0;
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
    };
    match view.phase {
        // hidden1 -> output directly, over the bypassed middle: W4 in phase 1.
        Some(Phase::One) => arc(
            bars[1].center_top(),
            bars[4].center_top(),
            "W4 reads hidden1 directly",
            Stroke::new(4.0, TRAINS),
            false,
        ),
        // hidden3 must reconstruct the frozen hidden1: the phase-2 target.
        Some(Phase::Two) => arc(
            bars[3].center_top(),
            bars[1].center_top(),
            "target: hidden3 = hidden1",
            Stroke::new(1.5, text),
            true,
        ),
        None => {}
    }
    for (i, bar) in bars.iter().enumerate() {
        let fill = match (view.phase, i) {
            (Some(Phase::Two), 1) => FROZEN,
            _ => text.gamma_multiply(0.75),
        };
        painter.rect_filled(*bar, 3.0, fill);
        let below = mid_y + max_h / 2.0 + 3.0;
        painter.text(
            pos2(bar.center().x, below),
            Align2::CENTER_TOP,
            names[i],
            FontId::proportional(11.0),
            weak,
        );
        painter.text(
            pos2(bar.center().x, below + 14.0),
            Align2::CENTER_TOP,
            sizes[i].to_string(),
            FontId::monospace(11.0),
            text,
        );
    }
    // Always drawn, so the layout below does not jump when a phase is previewed.
    {
        ui.horizontal(|ui| {
            for (c, label) in [(TRAINS, "trains"), (FROZEN, "frozen"), (faint, "bypassed")] {
                let (rect, _) = ui.allocate_exact_size(vec2(10.0, 10.0), Sense::hover());
                ui.painter().rect_filled(rect, 2.0, c);
                ui.painter().rect_stroke(
                    rect,
                    2.0,
                    Stroke::new(1.0, weak),
                    egui::StrokeKind::Inside,
                );
                ui.label(label);
            }
            if view.phase.is_some() && !view.running {
                ui.weak("(last phase)");
            }
        });
    }
}
