//! The views beside the Training panel, as tiles the user can rearrange, tab and
//! resize (egui_tiles); the arrangement persists with the settings.

use egui_tiles::{Container, Tile, TileId, Tiles, Tree};
use serde::{Deserialize, Serialize};

/// Declares `Pane`, its `ALL` list and its titles from one table, so that no pane can
/// be left out of the list (and of layouts saved before it existed).
macro_rules! panes {
    ($($name:ident => $title:literal,)*) => {
        /// Every view that can be docked.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Pane {
            $($name,)*
        }

        impl Pane {
            pub const ALL: &[Pane] = &[$(Pane::$name,)*];

            pub fn title(self) -> &'static str {
                match self {
                    $(Pane::$name => $title,)*
                }
            }
        }
    };
}

panes! {
    Losses => "Losses",
    Reconstructions => "Reconstructions",
    Features => "Features",
    Codes => "Codes",
    Map => "Map",
    Walk => "Walk",
    Draw => "Draw",
    Experiments => "Experiments",
}

/// The first arrangement: losses (and the map) over reconstructions (and the walk and
/// the drawing pad) in the middle, features over codes at the right; each view in a
/// tab, so any can be dragged elsewhere.
pub fn default_tree() -> Tree<Pane> {
    let mut tiles = Tiles::default();
    let tabs = |tiles: &mut Tiles<Pane>, panes: &[Pane]| {
        let children = panes.iter().map(|&p| tiles.insert_pane(p)).collect();
        tiles.insert_tab_tile(children)
    };
    let losses = tabs(&mut tiles, &[Pane::Losses, Pane::Map, Pane::Experiments]);
    let recon = tabs(&mut tiles, &[Pane::Reconstructions, Pane::Walk, Pane::Draw]);
    let features = tabs(&mut tiles, &[Pane::Features]);
    let codes = tabs(&mut tiles, &[Pane::Codes]);
    let middle = tiles.insert_vertical_tile(vec![losses, recon]);
    let right = tiles.insert_vertical_tile(vec![features, codes]);
    let root = tiles.insert_horizontal_tile(vec![middle, right]);
    set_shares(&mut tiles, root, &[(middle, 2.2), (right, 1.0)]);
    set_shares(&mut tiles, middle, &[(losses, 1.0), (recon, 1.05)]);
    Tree::new(egui::Id::unique("layerwise-views"), root, tiles)
}

fn set_shares(tiles: &mut Tiles<Pane>, linear: TileId, shares: &[(TileId, f32)]) {
    if let Some(Tile::Container(Container::Linear(l))) = tiles.get_mut(linear) {
        for &(child, share) in shares {
            l.shares.set_share(child, share);
        }
    }
}

/// Adds the views a persisted arrangement lacks (it was saved by an older version) as
/// tabs beside the first view, so that every view can always be reached.
pub fn ensure_all(tree: &mut Tree<Pane>) {
    for &pane in Pane::ALL {
        if tree.tiles.find_pane(&pane).is_some() {
            continue;
        }
        let id = tree.tiles.insert_pane(pane);
        let host = tree
            .tiles
            .iter()
            .find_map(|(&tid, t)| matches!(t, Tile::Container(Container::Tabs(_))).then_some(tid));
        match host.and_then(|h| tree.tiles.get_mut(h)) {
            Some(Tile::Container(c)) => c.add_child(id),
            _ => {
                // No tabs at all: start again from the default arrangement.
                *tree = default_tree();
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn panes(tree: &Tree<Pane>) -> Vec<Pane> {
        let mut v: Vec<Pane> = tree
            .tiles
            .tiles()
            .filter_map(|t| match t {
                Tile::Pane(p) => Some(*p),
                Tile::Container(_) => None,
            })
            .collect();
        v.sort_by_key(|p| Pane::ALL.iter().position(|q| q == p));
        v
    }

    #[test]
    fn the_default_shows_every_view_once_and_survives_serde() {
        let tree = default_tree();
        assert_eq!(panes(&tree), Pane::ALL);
        let json = serde_json::to_string(&tree).unwrap();
        let back: Tree<Pane> = serde_json::from_str(&json).unwrap();
        assert_eq!(panes(&back), Pane::ALL);
    }

    #[test]
    fn a_missing_view_is_added_back() {
        let mut tree = default_tree();
        let codes = tree.tiles.find_pane(&Pane::Codes).unwrap();
        tree.tiles.remove(codes);
        assert_eq!(panes(&tree).len(), Pane::ALL.len() - 1);
        ensure_all(&mut tree);
        assert_eq!(panes(&tree), Pane::ALL);
    }
}
