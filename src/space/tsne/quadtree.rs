//! The Barnes-Hut quadtree of a 2-D layout, for t-SNE's repulsive forces.
//!
//! Nodes are stored in depth-first pre-order, each with the index just past its
//! subtree (`skip`): a traversal is one loop over an array, moving to the next node to
//! open a cell or jumping to `skip` to summarise it, with no stack and no recursion.

/// A cell deeper than this is a leaf whatever it holds: its side, 2^-48 of the
/// layout's, is a few f64 ulps of the coordinates, and points that close repel as one.
/// (Coincident points stop the split earlier: a cell without spread is a leaf.)
const MAX_DEPTH: u32 = 48;

#[derive(Debug, Clone, Copy, PartialEq)]
struct Node {
    /// The centre of mass of the points in the cell.
    com: [f64; 2],
    /// The side of the (square) cell.
    width: f64,
    /// The cell's points are `order[first..first + count]`.
    first: u32,
    count: u32,
    /// The index of the first node after this one's subtree.
    skip: u32,
    leaf: bool,
}

/// A quadtree, rebuilt in place every iteration without reallocating.
#[derive(Debug, Clone, Default)]
pub(super) struct QuadTree {
    nodes: Vec<Node>,
    /// The points, ordered so that every cell's points are contiguous.
    order: Vec<u32>,
    /// Where each point is in `order`: a cell holds point i when
    /// `first <= position[i] < first + count`.
    position: Vec<u32>,
    scratch: Vec<u32>,
    quadrant: Vec<u8>,
}

impl QuadTree {
    /// Rebuilds the tree over the points `y`.
    pub fn build(&mut self, y: &[[f64; 2]]) {
        let n = y.len();
        self.nodes.clear();
        self.order.clear();
        self.order.extend(0..n as u32);
        self.scratch.resize(n, 0);
        self.quadrant.resize(n, 0);
        if n > 0 {
            let (centre, half) = bounding_square(y);
            self.build_node(y, 0, n, centre, half, 0);
        }
        self.position.resize(n, 0);
        for (pos, &i) in self.order.iter().enumerate() {
            self.position[i as usize] = pos as u32;
        }
    }

    /// The points in tree order: every cell's points are consecutive.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Each point's place in `order`.
    pub fn positions(&self) -> &[u32] {
        &self.position
    }

    /// Appends the subtree of the cell `centre ± half` holding `order[first..][..count]`.
    fn build_node(
        &mut self,
        y: &[[f64; 2]],
        first: usize,
        count: usize,
        centre: [f64; 2],
        half: f64,
        depth: u32,
    ) {
        let me = self.nodes.len();
        let points = &self.order[first..first + count];
        let (com, spread) = centre_of_mass(y, points);
        let leaf = count == 1 || !spread || depth == MAX_DEPTH;
        self.nodes.push(Node {
            com,
            width: 2.0 * half,
            first: first as u32,
            count: count as u32,
            skip: 0,
            leaf,
        });
        if !leaf {
            let counts = self.partition(y, first, count, centre);
            let mut start = first;
            for (q, &c) in counts.iter().enumerate() {
                if c > 0 {
                    let h = half / 2.0;
                    let child = [
                        centre[0] + if q & 1 == 1 { h } else { -h },
                        centre[1] + if q & 2 == 2 { h } else { -h },
                    ];
                    self.build_node(y, start, c, child, h, depth + 1);
                }
                start += c;
            }
        }
        self.nodes[me].skip = self.nodes.len() as u32;
    }

    /// Reorders `order[first..][..count]` by quadrant (bit 0: right, bit 1: top),
    /// stably, and returns each quadrant's count.
    fn partition(&mut self, y: &[[f64; 2]], first: usize, count: usize, c: [f64; 2]) -> [usize; 4] {
        let range = first..first + count;
        let mut counts = [0usize; 4];
        for (q, &i) in self.quadrant[range.clone()]
            .iter_mut()
            .zip(&self.order[range.clone()])
        {
            let p = y[i as usize];
            *q = (p[0] >= c[0]) as u8 | (((p[1] >= c[1]) as u8) << 1);
            counts[*q as usize] += 1;
        }
        let mut next = [0usize; 4];
        for q in 1..4 {
            next[q] = next[q - 1] + counts[q - 1];
        }
        let scratch = &mut self.scratch[range.clone()];
        for (&q, &i) in self.quadrant[range.clone()]
            .iter()
            .zip(&self.order[range.clone()])
        {
            scratch[next[q as usize]] = i;
            next[q as usize] += 1;
        }
        self.order[range].copy_from_slice(scratch);
        counts
    }

    /// The repulsion on point `i` at `yi`: `(sum_j q_ij² (yi - yj), sum_j q_ij)` with
    /// `q_ij = 1 / (1 + |yi - yj|²)` over all j != i, a cell of side w at distance d
    /// taken as one body at its centre of mass when `w² < theta² d²`. The terms are
    /// added in the tree's fixed order.
    pub fn repulsion(&self, i: usize, yi: [f64; 2], theta2: f64) -> ([f64; 2], f64) {
        let pos = self.position[i];
        let (mut force, mut z) = ([0f64; 2], 0f64);
        let mut k = 0;
        while let Some(node) = self.nodes.get(k) {
            let dx = yi[0] - node.com[0];
            let dy = yi[1] - node.com[1];
            let d2 = dx * dx + dy * dy;
            if !(node.leaf || node.width * node.width < theta2 * d2) {
                k += 1;
                continue;
            }
            // A summarised cell holding i itself stands for its other points.
            let holds_i = pos.wrapping_sub(node.first) < node.count;
            let count = f64::from(node.count - u32::from(holds_i));
            if count > 0.0 {
                let q = 1.0 / (1.0 + d2);
                z += count * q;
                let f = count * q * q;
                force[0] += f * dx;
                force[1] += f * dy;
            }
            k = node.skip as usize;
        }
        (force, z)
    }

    #[cfg(test)]
    fn check_invariants(&self, y: &[[f64; 2]]) {
        let root = self.nodes[0];
        assert_eq!(
            (root.first, root.count, root.skip),
            (0, y.len() as u32, self.nodes.len() as u32)
        );
        for (k, node) in self.nodes.iter().enumerate() {
            let points = &self.order[node.first as usize..(node.first + node.count) as usize];
            // Summed in another order than the build's: equal up to rounding.
            let (com, _) = centre_of_mass(y, points);
            assert!((com[0] - node.com[0]).abs() + (com[1] - node.com[1]).abs() < 1e-12);
            if !node.leaf {
                // The children tile the parent's points.
                let mut child = k + 1;
                let mut covered = node.first;
                while child < node.skip as usize {
                    assert_eq!(self.nodes[child].first, covered);
                    covered += self.nodes[child].count;
                    child = self.nodes[child].skip as usize;
                }
                assert_eq!(covered, node.first + node.count);
            }
        }
    }
}

/// The centre of the square around all points, and half its side.
fn bounding_square(y: &[[f64; 2]]) -> ([f64; 2], f64) {
    let mut lo = [f64::INFINITY; 2];
    let mut hi = [f64::NEG_INFINITY; 2];
    for p in y {
        for a in 0..2 {
            lo[a] = lo[a].min(p[a]);
            hi[a] = hi[a].max(p[a]);
        }
    }
    let centre = [(lo[0] + hi[0]) / 2.0, (lo[1] + hi[1]) / 2.0];
    let half = (hi[0] - lo[0]).max(hi[1] - lo[1]) / 2.0;
    (centre, half)
}

/// The mean of the points, summed in their order, and whether they are not all at
/// one place (a cell of coincident points is a leaf: no split separates them).
fn centre_of_mass(y: &[[f64; 2]], points: &[u32]) -> ([f64; 2], bool) {
    let first = y[points[0] as usize];
    let mut sum = [0f64; 2];
    let mut spread = false;
    for &i in points {
        let p = y[i as usize];
        sum[0] += p[0];
        sum[1] += p[1];
        spread |= p != first;
    }
    let inv = 1.0 / points.len() as f64;
    ([sum[0] * inv, sum[1] * inv], spread)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(n: usize) -> Vec<[f64; 2]> {
        (0..n)
            .map(|i| {
                let t = i as f64 * 0.618_033_988_7;
                let r = (i % 17) as f64 * 0.3 + 1.0;
                [
                    r * (t * std::f64::consts::TAU).cos() + (i % 5) as f64 * 3.0,
                    r * (t * std::f64::consts::TAU).sin(),
                ]
            })
            .collect()
    }

    fn exact(y: &[[f64; 2]], i: usize) -> ([f64; 2], f64) {
        let (mut f, mut z) = ([0f64; 2], 0f64);
        for (j, p) in y.iter().enumerate() {
            if j != i {
                let (dx, dy) = (y[i][0] - p[0], y[i][1] - p[1]);
                let q = 1.0 / (1.0 + dx * dx + dy * dy);
                z += q;
                f[0] += q * q * dx;
                f[1] += q * q * dy;
            }
        }
        (f, z)
    }

    #[test]
    fn cells_hold_their_points_and_their_centres_of_mass() {
        let y = layout(500);
        let mut tree = QuadTree::default();
        tree.build(&y);
        tree.check_invariants(&y);
        assert!(
            tree.nodes.len() > 500,
            "every point ends in a leaf of its own"
        );
        let mut sorted = tree.order.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..500).collect::<Vec<u32>>());
    }

    #[test]
    fn theta_zero_is_exact_and_theta_half_is_close() {
        let y = layout(300);
        let mut tree = QuadTree::default();
        tree.build(&y);
        for i in [0, 7, 150, 299] {
            let (fe, ze) = exact(&y, i);
            let (f0, z0) = tree.repulsion(i, y[i], 0.0);
            assert!((z0 - ze).abs() < 1e-12 * ze);
            let norm = fe[0].hypot(fe[1]);
            assert!((f0[0] - fe[0]).hypot(f0[1] - fe[1]) < 1e-12 * norm);
            let (fh, zh) = tree.repulsion(i, y[i], 0.25);
            let fe_err = (fh[0] - fe[0]).hypot(fh[1] - fe[1]) / norm;
            // Per point, Barnes-Hut at theta 0.5 is good to a few percent.
            assert!((zh - ze).abs() < 0.04 * ze, "{zh} vs {ze}");
            assert!(fe_err < 0.08, "{fe_err}");
            assert!(zh != ze, "cells were summarised");
        }
    }

    #[test]
    fn coincident_points_repel_nothing_but_count_in_z() {
        // Points 0..4 share one place, point 4 is one unit away.
        let y = vec![[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [2.0, 1.0]];
        let mut tree = QuadTree::default();
        tree.build(&y);
        tree.check_invariants(&y);
        let (f, z) = tree.repulsion(0, y[0], 0.25);
        assert_eq!(z, 3.0 + 0.5);
        assert_eq!(f, [-0.25, 0.0]);
        // All points at one place: one leaf, and no NaN.
        let same = vec![[0.5, -2.0]; 6];
        tree.build(&same);
        assert_eq!(tree.nodes.len(), 1);
        assert_eq!(tree.repulsion(3, same[3], 0.25), ([0.0, 0.0], 5.0));
    }
}
