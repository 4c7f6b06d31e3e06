//! `TenantState`: one tenant's source rows by primary key and the aggregates kept from them.
//!
//! `apply` sets a row to its after-image (or removes it): it retracts what the old row
//! contributed, stores the new one, and adds its contribution, so applying the same change twice
//! is the same as applying it once, and a replay from an older position converges to the truth.
//! A token's contribution depends on its open assignment, so an assignment change re-files the
//! token(s) it touches. Each change costs O(1); a snapshot costs O(groups).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{NaiveDate, NaiveDateTime};
use serde::Serialize;

use super::completions::{CompletionEntry, CompletionIndex};
use super::dims::Dims;
use super::row::{Assignment, Change, Graph, Instance, Key, LeftOut, Row, Token};
use super::stored::{FastMap, FastSet, StoredAssignment, StoredToken};
use super::token_days::{TokenDayEntry, TokenDays};
use super::views::trends::Cover;
use super::views::{
    bottlenecks, cycle_time, summary, trends, workload, Cadence, Ctx, View, ViewRows,
};
use super::wip::{WipEntry, WipIndex};

#[derive(Debug, Default, Clone)]
pub struct TenantState {
    tokens: FastMap<i64, StoredToken>,
    assignments: FastMap<i64, StoredAssignment>,
    /// Token → ids of its open assignments; the highest one holds the token.
    open_by_token: FastMap<i64, BTreeSet<i64>>,
    /// Instance → the tokens filed in `token_days` under its group: re-filed when the instance's
    /// production type or graph changes.
    products: FastMap<i64, Vec<i64>>,
    dims: Dims,
    /// Node (`None`: a live token without one) → its live tokens (not bad): the drill-downs
    /// and the token ages read them without scanning every token held.
    at_node: FastMap<Option<i64>, FastSet<i64>>,
    wip: WipIndex,
    completions: CompletionIndex,
    token_days: TokenDays,
    /// Rows held now that count nowhere or only partly, by reason (docs/metrics.md, "Bad rows").
    bad_rows: BTreeMap<LeftOut, i64>,
    /// The day rows were last evicted for (see `evict`).
    evicted_for: Option<NaiveDate>,
    /// The changes applied since the journal was last taken, while one is kept (see
    /// [`TenantState::keep_journal`]): what a checkpoint adds to this tenant's part. Rows
    /// forgotten by eviction are in it as deletes.
    journal: Option<Vec<Change>>,
}

/// The rows of the views asked for, at one instant (naive local time).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Snapshot {
    pub at: NaiveDateTime,
    pub views: Vec<ViewRows>,
    /// The days the trends rows stand for (all of the window but in a snapshot taken after
    /// another: see [`Cover`]).
    #[serde(skip)]
    pub trends_cover: Cover,
}

impl Snapshot {
    pub fn row_count(&self) -> usize {
        self.views.iter().map(ViewRows::len).sum()
    }

    /// The rows of `view`, if the snapshot holds it.
    pub fn get(&self, view: View) -> Option<&ViewRows> {
        self.views.iter().find(|r| r.view() == view)
    }

    /// The rows of `view`, taken out of the snapshot.
    pub fn take(&mut self, view: View) -> Option<ViewRows> {
        let i = self.views.iter().position(|r| r.view() == view)?;
        Some(self.views.remove(i))
    }

    /// The cadences this snapshot belongs to, by the views it holds.
    pub fn cadences(&self) -> Vec<Cadence> {
        let mut out: Vec<Cadence> = self.views.iter().map(|r| r.view().cadence()).collect();
        out.sort();
        out.dedup();
        out
    }
}

/// Where a live token (not bad) is: `Some(its node)`; `None` for a token that is not live.
fn live_node(t: &Token) -> Option<Option<i64>> {
    (t.bad().is_none() && t.status.is_live()).then_some(t.node)
}

impl TenantState {
    /// Sets a row to its after-image, or removes it.
    pub fn apply(&mut self, change: Change) {
        self.apply_ref(&change);
        if let Some(journal) = &mut self.journal {
            journal.push(change);
        }
    }

    fn apply_ref(&mut self, change: &Change) {
        match change {
            Change::Upsert(Row::Token(t)) => self.set_token(t.id, Some(t.clone())),
            Change::Delete(Key::Token(id)) => self.set_token(*id, None),
            Change::Upsert(Row::Assignment(a)) => self.set_assignment(a.id, Some(a.clone())),
            Change::Delete(Key::Assignment(id)) => self.set_assignment(*id, None),
            Change::Upsert(Row::Instance(r)) => self.set_instance(r.id, Some(r.clone())),
            Change::Delete(Key::Instance(id)) => self.set_instance(*id, None),
            Change::Upsert(Row::Node(r)) => {
                self.dims.nodes.insert(r.id, r.clone());
            }
            Change::Delete(Key::Node(id)) => {
                self.dims.nodes.remove(id);
            }
            Change::Upsert(Row::Graph(r)) => self.set_graph(r.id, Some(r.clone())),
            Change::Delete(Key::Graph(id)) => self.set_graph(*id, None),
            Change::Upsert(Row::Team(r)) => {
                self.dims.teams.insert(r.id, r.clone());
            }
            Change::Delete(Key::Team(id)) => {
                self.dims.teams.remove(id);
            }
            Change::Upsert(Row::Member(r)) => {
                self.dims.members.insert((r.team, r.operator), r.clone());
            }
            Change::Delete(Key::Member { team, operator }) => {
                self.dims.members.remove(&(*team, *operator));
            }
        }
    }

    /// From now on, keeps the changes applied (and the rows evicted) for
    /// [`TenantState::take_journal`].
    pub fn keep_journal(&mut self) {
        self.journal.get_or_insert_with(Vec::new);
    }

    /// The changes since the journal was last taken (empty if none is kept). O(1).
    pub fn take_journal(&mut self) -> Vec<Change> {
        match &mut self.journal {
            Some(journal) => std::mem::take(journal),
            None => Vec::new(),
        }
    }

    fn token(&self, id: i64) -> Option<Token> {
        self.tokens.get(&id).map(|s| s.token(id))
    }

    fn assignment(&self, id: i64) -> Option<Assignment> {
        self.assignments.get(&id).map(|s| s.assignment(id))
    }

    fn open_assignment(&self, token: i64) -> Option<Assignment> {
        let id = self.open_by_token.get(&token)?.last()?;
        self.assignment(*id)
    }

    fn wip_entry(&self, token: i64) -> Option<WipEntry> {
        self.wip_entry_of(&self.token(token)?)
    }

    /// What token `t` adds to the WIP cells, were it stored (its open assignment is looked up
    /// only for a live token: most tokens are done).
    fn wip_entry_of(&self, t: &Token) -> Option<WipEntry> {
        if t.bad().is_some() || !t.status.is_live() {
            return None;
        }
        WipEntry::of(t, self.open_assignment(t.id).as_ref())
    }

    fn count_bad(&mut self, reason: Option<LeftOut>, sign: i64) {
        if let Some(r) = reason {
            *self.bad_rows.entry(r).or_default() += sign;
        }
    }

    fn set_token(&mut self, id: i64, new: Option<Token>) {
        let old = self.token(id);
        let old_days = old.as_ref().and_then(TokenDayEntry::of);
        let new_days = new.as_ref().and_then(TokenDayEntry::of);
        if old_days != new_days {
            self.token_days.replace(
                old_days
                    .as_ref()
                    .map(|e| (e, self.dims.product_ref(e.instance))),
                new_days
                    .as_ref()
                    .map(|e| (e, self.dims.product_ref(e.instance))),
            );
            if let Some(e) = old_days {
                self.unfile_product(e.instance, id);
            }
            if let Some(i) = new_days.and_then(|e| e.instance) {
                self.products.entry(i).or_default().push(id);
            }
        }
        if let Some(old) = &old {
            self.count_bad(old.bad(), -1);
            if let Some(e) = self.wip_entry_of(old) {
                self.wip.remove(&e);
            }
            if let Some(node) = live_node(old) {
                if let Some(set) = self.at_node.get_mut(&node) {
                    set.remove(&id);
                    if set.is_empty() {
                        self.at_node.remove(&node);
                    }
                }
            }
        }
        match new {
            Some(t) => {
                self.count_bad(t.bad(), 1);
                if let Some(node) = live_node(&t) {
                    self.at_node.entry(node).or_default().insert(id);
                }
                let e = self.wip_entry_of(&t);
                self.tokens.insert(id, StoredToken::new(&t));
                if let Some(e) = e {
                    self.wip.add(&e);
                }
            }
            None => {
                self.tokens.remove(&id);
            }
        }
    }

    fn unfile_product(&mut self, instance: Option<i64>, token: i64) {
        let Some(i) = instance else { return };
        if let Some(list) = self.products.get_mut(&i) {
            if let Some(p) = list.iter().position(|t| *t == token) {
                list.swap_remove(p);
            }
            if list.is_empty() {
                self.products.remove(&i);
            }
        }
    }

    /// An instance row changes: its tokens move to the trends group it resolves to now.
    fn set_instance(&mut self, id: i64, new: Option<Instance>) {
        let tokens = self.products.get(&id).cloned().unwrap_or_default();
        let before = (!tokens.is_empty()).then(|| self.dims.product_of(Some(id)));
        match new {
            Some(r) => self.dims.instances.insert(id, r),
            None => self.dims.instances.remove(&id),
        };
        let Some(before) = before else { return };
        let before = (before.0.as_deref(), before.1);
        if before == self.dims.product_ref(Some(id)) {
            return;
        }
        for t in tokens {
            if let Some(e) = self.token(t).as_ref().and_then(TokenDayEntry::of) {
                self.token_days.replace(
                    Some((&e, before)),
                    Some((&e, self.dims.product_ref(e.instance))),
                );
            }
        }
    }

    /// A graph row changes: if its production type did, the instances without their own fall
    /// into another trends group. Rare (routing graphs are edited, not streamed): every product
    /// token is filed again.
    fn set_graph(&mut self, id: i64, new: Option<Graph>) {
        let before = self
            .dims
            .graphs
            .get(&id)
            .and_then(|g| g.production_type.clone());
        let after = new.as_ref().and_then(|g| g.production_type.clone());
        match new {
            Some(r) => self.dims.graphs.insert(id, r),
            None => self.dims.graphs.remove(&id),
        };
        if before == after || self.products.is_empty() {
            return;
        }
        self.token_days.clear();
        for (id, t) in &self.tokens {
            if let Some(e) = TokenDayEntry::of(&t.token(*id)) {
                self.token_days.add(&e, self.dims.product_ref(e.instance));
            }
        }
    }

    fn set_assignment(&mut self, id: i64, new: Option<Assignment>) {
        let old = self.assignment(id);
        // Tokens this assignment may hold, before or after the change: re-file them.
        let held: BTreeSet<i64> = old
            .iter()
            .chain(new.as_ref())
            .filter(|a| a.is_open())
            .filter_map(|a| a.token)
            .collect();
        for t in &held {
            if let Some(e) = self.wip_entry(*t) {
                self.wip.remove(&e);
            }
        }
        if let Some(old) = old {
            self.assignments.remove(&id);
            if let Some(e) = CompletionEntry::of(&old) {
                self.completions.remove(&e);
            }
            self.count_bad(old.left_out(), -1);
            if let (true, Some(t)) = (old.is_open(), old.token) {
                if let Some(open) = self.open_by_token.get_mut(&t) {
                    open.remove(&id);
                    if open.is_empty() {
                        self.open_by_token.remove(&t);
                    }
                }
            }
        }
        if let Some(a) = new {
            if let Some(e) = CompletionEntry::of(&a) {
                self.completions.add(&e);
            }
            self.count_bad(a.left_out(), 1);
            if let (true, Some(t)) = (a.is_open(), a.token) {
                self.open_by_token.entry(t).or_default().insert(id);
            }
            self.assignments.insert(id, StoredAssignment::new(&a));
        }
        for t in &held {
            if let Some(e) = self.wip_entry(*t) {
                self.wip.add(&e);
            }
        }
    }

    /// The rows of `views` at instant `at` (naive local time). Forgets days no view can read
    /// again, since instants only move forward.
    ///
    /// The trends rows are those of the days changed since the last snapshot with trends
    /// ([`Cover`]), which must be written before this one.
    pub fn snapshot(&mut self, at: NaiveDateTime, views: &[View]) -> Snapshot {
        self.prepare(at.date());
        let mut snap = self.view(at, views);
        if views.contains(&View::Trends) {
            let cover = Cover::of(&Ctx::new(at, &self.dims), self.token_days.take_changed());
            for rows in &mut snap.views {
                if let ViewRows::Trends(rows) = rows {
                    rows.retain(|r| cover.covers(r.period_date));
                }
            }
            snap.trends_cover = cover;
        }
        snap
    }

    /// The upkeep a snapshot on `today` needs first: days and rows no view can read again are
    /// forgotten, the cycle-time week is merged. The first call of a day is O(rows); later ones
    /// are cheap. A tenant loader calls it right after the load, so that the first snapshot,
    /// taken on the ordered loop, costs what any other does.
    pub fn prepare(&mut self, today: NaiveDate) {
        let week = super::completions::week_start(today);
        let lookback = today - chrono::Days::new(trends::LOOKBACK_DAYS - 1);
        self.completions.drop_before(week);
        self.completions.prepare_week(today);
        self.token_days.drop_before(lookback);
        if self.evicted_for.is_none_or(|d| d < today) {
            self.evict(lookback, week);
            self.evicted_for = Some(today);
        }
    }

    /// Forgets the rows that count in no view now and cannot count again unless they change
    /// (a change brings its whole after-image back): tokens that are not live and whose days
    /// fell behind the trends look-back, and closed assignments completed before the cycle-time
    /// week or never. Keeps memory bounded by the windows, not by history. O(rows), once a day.
    fn evict(&mut self, tokens_from: NaiveDate, assignments_from: NaiveDate) {
        let before = |d: Option<NaiveDateTime>, from: NaiveDate| d.is_none_or(|d| d.date() < from);
        let tokens: Vec<Token> = self
            .tokens
            .iter()
            .map(|(id, t)| t.token(*id))
            .filter(|t| {
                // Bad rows stay, counted, as the loader loads them whatever their age.
                t.bad().is_none()
                    && !t.status.is_live()
                    && before(t.spawned_at, tokens_from)
                    && before(t.completed_at, tokens_from)
            })
            .collect();
        for t in tokens {
            if let Some(e) = TokenDayEntry::of(&t) {
                self.unfile_product(e.instance, t.id);
            }
            self.tokens.remove(&t.id);
            if let Some(journal) = &mut self.journal {
                journal.push(Change::Delete(Key::Token(t.id)));
            }
        }
        let assignments: Vec<Assignment> = self
            .assignments
            .iter()
            .map(|(id, a)| a.assignment(*id))
            .filter(|a| {
                a.bad().is_none()
                    && !a.is_open()
                    && a.completed_on().is_none_or(|d| d < assignments_from)
            })
            .collect();
        for a in assignments {
            self.count_bad(a.left_out(), -1);
            self.assignments.remove(&a.id);
            if let Some(journal) = &mut self.journal {
                journal.push(Change::Delete(Key::Assignment(a.id)));
            }
        }
    }

    /// Like `snapshot`, without forgetting anything: for live reads.
    pub fn view(&self, at: NaiveDateTime, views: &[View]) -> Snapshot {
        let ctx = Ctx::new(at, &self.dims);
        let views = views
            .iter()
            .map(|v| match v {
                View::Summary => {
                    ViewRows::Summary(summary::rows(&ctx, &self.wip, &self.completions))
                }
                View::Bottlenecks => ViewRows::Bottlenecks(bottlenecks::rows(&ctx, &self.wip)),
                View::Workload => ViewRows::Workload(workload::rows(&ctx, &self.wip)),
                View::CycleTime => ViewRows::CycleTime(cycle_time::rows(&ctx, &self.completions)),
                View::Trends => ViewRows::Trends(trends::rows(&ctx, &self.token_days)),
            })
            .collect();
        Snapshot {
            at,
            views,
            trends_cover: Cover::Window,
        }
    }

    /// Rows left out of some metric now, by reason: the bad rows held, plus live tokens and
    /// assignments completed within the windows whose node is missing from routing_node.
    pub fn left_out(&self) -> BTreeMap<LeftOut, i64> {
        let mut out = self.bad_rows.clone();
        out.retain(|_, n| *n != 0);
        // From the aggregates, not the rows: cheap enough for every metrics scrape.
        let missing = |node: i64| !self.dims.nodes.contains_key(&node);
        let tokens: i64 = self
            .wip
            .cells()
            .filter(|(k, _)| k.node.is_some_and(missing))
            .map(|(_, c)| c.live)
            .sum();
        let assignments: i64 = self
            .completions
            .days(NaiveDate::MIN, NaiveDate::MAX)
            .flat_map(|(_, cells)| cells.iter())
            .filter(|(k, _)| missing(k.node))
            .map(|(_, c)| c.completed)
            .sum();
        if tokens + assignments > 0 {
            out.insert(LeftOut::NodeMissing, tokens + assignments);
        }
        let no_assigned_at: i64 = self.wip.cells().map(|(_, c)| c.waits_unknown).sum();
        if no_assigned_at > 0 {
            out.insert(LeftOut::NoAssignedAt, no_assigned_at);
        }
        out
    }

    /// The live tokens at `node` (not bad ones; `None`: those without a node), each with its
    /// open assignment, in no order.
    pub fn live_at(
        &self,
        node: Option<i64>,
    ) -> impl Iterator<Item = (Token, Option<Assignment>)> + '_ {
        self.at_node
            .get(&node)
            .into_iter()
            .flatten()
            .filter_map(|id| Some((self.token(*id)?, self.open_assignment(*id))))
    }

    /// The nodes with live tokens (`None`: tokens without a node), and how many each has.
    pub fn live_counts(&self) -> impl Iterator<Item = (Option<i64>, usize)> + '_ {
        self.at_node.iter().map(|(node, set)| (*node, set.len()))
    }

    /// Whether the token with this id is held.
    pub fn has_token(&self, id: i64) -> bool {
        self.tokens.contains_key(&id)
    }

    /// The dimension rows (nodes, teams, graphs ...), read-only: the dashboard names the ids
    /// of the views' rows with them.
    pub fn dims(&self) -> &Dims {
        &self.dims
    }

    /// Source rows held in memory.
    pub fn rows(&self) -> usize {
        self.tokens.len() + self.assignments.len() + self.dims.rows()
    }

    /// Every row held, for checkpoints: applying them to an empty state rebuilds this one.
    pub fn all_rows(&self) -> impl Iterator<Item = Row> + '_ {
        let d = &self.dims;
        d.instances
            .values()
            .cloned()
            .map(Row::Instance)
            .chain(d.nodes.values().cloned().map(Row::Node))
            .chain(d.graphs.values().cloned().map(Row::Graph))
            .chain(d.teams.values().cloned().map(Row::Team))
            .chain(d.members.values().cloned().map(Row::Member))
            .chain(self.tokens.iter().map(|(id, t)| Row::Token(t.token(*id))))
            .chain(
                self.assignments
                    .iter()
                    .map(|(id, a)| Row::Assignment(a.assignment(*id))),
            )
    }
}
