//! Dimension rows of a tenant (instances, nodes, graphs, teams, members) and the lookups the
//! views resolve their raw keys through at snapshot time: graph of a node, production type of an
//! instance, team of an operator at a node.
//!
//! Views key their aggregates by raw source ids (node, operator, instance) and resolve them here
//! when a snapshot is taken, so a change to a dimension row (a membership, a node's graph, a
//! team's category) re-attributes everything at once, as the cron job's SQL did, at no cost per
//! change.

use std::collections::HashMap;

use super::stored::FastMap;

use serde::{Deserialize, Serialize};

use super::row::{Graph, Instance, Member, Node, Team};

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Dims {
    pub instances: FastMap<i64, Instance>,
    pub nodes: FastMap<i64, Node>,
    pub graphs: FastMap<i64, Graph>,
    pub teams: FastMap<i64, Team>,
    pub members: FastMap<(i64, i64), Member>,
}

impl Dims {
    /// The instance's graph and production type (instance's own, else its graph's).
    pub fn product_of(&self, instance: Option<i64>) -> (Option<String>, Option<i64>) {
        let (ptype, graph) = self.product_ref(instance);
        (ptype.map(str::to_string), graph)
    }

    /// [`Self::product_of`], borrowed.
    pub fn product_ref(&self, instance: Option<i64>) -> (Option<&str>, Option<i64>) {
        let Some(inst) = instance.and_then(|i| self.instances.get(&i)) else {
            return (None, None);
        };
        let ptype = inst.production_type.as_deref().or_else(|| {
            inst.graph
                .and_then(|g| self.graphs.get(&g))
                .and_then(|g| g.production_type.as_deref())
        });
        (ptype, inst.graph)
    }

    pub fn rows(&self) -> usize {
        self.instances.len()
            + self.nodes.len()
            + self.graphs.len()
            + self.teams.len()
            + self.members.len()
    }
}

/// Team attribution (docs/metrics.md, "team of an operator at a node"), prepared once per snapshot.
pub struct TeamResolver<'a> {
    dims: &'a Dims,
    /// Operator → candidate teams (active membership in an active team), ascending id_team.
    candidates: HashMap<i64, Vec<i64>>,
}

impl<'a> TeamResolver<'a> {
    pub fn new(dims: &'a Dims) -> Self {
        let mut candidates: HashMap<i64, Vec<i64>> = HashMap::new();
        for m in dims.members.values() {
            if m.active && dims.teams.get(&m.team).is_some_and(|t| t.active) {
                candidates.entry(m.operator).or_default().push(m.team);
            }
        }
        for teams in candidates.values_mut() {
            teams.sort_unstable();
        }
        TeamResolver { dims, candidates }
    }

    /// Of the candidates whose category equals the node's (non-NULL) category, the lowest id;
    /// else the lowest id of all candidates; `None` without candidates.
    pub fn team_of(&self, operator: i64, node: i64) -> Option<i64> {
        let teams = self.candidates.get(&operator)?;
        let category = self
            .dims
            .nodes
            .get(&node)
            .and_then(|n| n.team_category.as_deref());
        category
            .and_then(|cat| {
                teams.iter().copied().find(|t| {
                    self.dims
                        .teams
                        .get(t)
                        .and_then(|t| t.team_category.as_deref())
                        == Some(cat)
                })
            })
            .or_else(|| teams.first().copied())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub fn node(id: i64, graph: i64, category: Option<&str>) -> Node {
        Node {
            id,
            graph: Some(graph),
            code: Some(format!("N{id}")),
            name: Some(format!("Node {id}")),
            team_category: category.map(str::to_string),
            wip_limit: None,
        }
    }

    pub fn team(id: i64, category: Option<&str>, active: bool) -> Team {
        Team {
            id,
            name: Some(format!("Team {id}")),
            team_category: category.map(str::to_string),
            active,
        }
    }

    pub fn member(team: i64, operator: i64, capacity: Option<i64>, active: bool) -> Member {
        Member {
            team,
            operator,
            capacity_per_day: capacity,
            active,
        }
    }

    fn dims() -> Dims {
        let mut d = Dims::default();
        for n in [
            node(1, 10, Some("sewing")),
            node(2, 10, None),
            node(3, 10, Some("qc")),
        ] {
            d.nodes.insert(n.id, n);
        }
        for t in [
            team(5, Some("cutting"), true),
            team(7, Some("sewing"), true),
            team(8, Some("sewing"), true),
            team(9, Some("qc"), false),
        ] {
            d.teams.insert(t.id, t);
        }
        for m in [
            member(5, 100, None, true),
            member(7, 100, None, true),
            member(8, 100, None, true),
            member(9, 100, None, true),
            member(7, 200, None, false),
            member(9, 300, None, true),
        ] {
            d.members.insert((m.team, m.operator), m);
        }
        d
    }

    #[test]
    fn category_match_wins_with_lowest_id() {
        let d = dims();
        let r = TeamResolver::new(&d);
        assert_eq!(
            r.team_of(100, 1),
            Some(7),
            "sewing node: lowest sewing team"
        );
        assert_eq!(r.team_of(100, 2), Some(5), "NULL category: lowest of all");
        assert_eq!(
            r.team_of(100, 3),
            Some(5),
            "qc team 9 is inactive: no match, lowest of all"
        );
        assert_eq!(r.team_of(100, 99), Some(5), "missing node: lowest of all");
    }

    #[test]
    fn inactive_memberships_and_teams_are_no_candidates() {
        let d = dims();
        let r = TeamResolver::new(&d);
        assert_eq!(r.team_of(200, 1), None, "inactive member");
        assert_eq!(r.team_of(300, 3), None, "member of an inactive team only");
        assert_eq!(r.team_of(999, 1), None, "no membership");
    }

    #[test]
    fn production_type_falls_back_to_graph() {
        let mut d = dims();
        d.graphs.insert(
            10,
            Graph {
                id: 10,
                production_type: Some("classic".into()),
                name: None,
            },
        );
        d.instances.insert(
            1,
            Instance {
                id: 1,
                graph: Some(10),
                production_type: None,
            },
        );
        d.instances.insert(
            2,
            Instance {
                id: 2,
                graph: Some(10),
                production_type: Some("hatthasilpa".into()),
            },
        );
        assert_eq!(d.product_of(Some(1)), (Some("classic".into()), Some(10)));
        assert_eq!(
            d.product_of(Some(2)),
            (Some("hatthasilpa".into()), Some(10))
        );
        assert_eq!(d.product_of(Some(3)), (None, None));
    }
}
