//! What changed between two configurations, so that the daemon applies only that and leaves
//! unaffected sessions up.

use std::collections::BTreeSet;

use serde::Serialize;

use super::schema::{Config, LinkConfig, LinkMode};

/// Named items added, removed or changed (in the new document's order; removed ones in the
/// old document's order).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Changes {
    /// Present only in the new configuration.
    pub added: Vec<String>,
    /// Present only in the old configuration.
    pub removed: Vec<String>,
    /// Present in both, with different settings.
    pub changed: Vec<String>,
}

impl Changes {
    /// Whether nothing was added, removed or changed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }

    fn between<T: PartialEq>(old: &[T], new: &[T], name: impl Fn(&T) -> &str) -> Changes {
        let find = |list: &[T], n: &str| list.iter().find(|x| name(x) == n).is_some();
        let mut c = Changes::default();
        for n in new {
            match old.iter().find(|o| name(o) == name(n)) {
                None => c.added.push(name(n).to_owned()),
                Some(o) if o != n => c.changed.push(name(n).to_owned()),
                Some(_) => {}
            }
        }
        for o in old {
            if !find(new, name(o)) {
                c.removed.push(name(o).to_owned());
            }
        }
        c
    }
}

/// The difference between two configurations.
///
/// How the daemon applies it: `system`, `management`, `lan` and `tun` changes concern the
/// whole process or data plane; `ppp` changes reach sessions through
/// [`links_affected`](Self::links_affected) only (sessions keep the settings they were
/// negotiated with); plugins added/removed/changed are loaded, unloaded or reconfigured;
/// sessions of removed links end; the sessions of every link in `links_affected` are
/// restarted with the new settings, and every other session stays up.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ConfigDiff {
    /// `[system]` changed.
    pub system: bool,
    /// `[management]` changed.
    pub management: bool,
    /// `[ppp]` defaults changed.
    pub ppp: bool,
    /// `[lan]` changed (added, removed or edited).
    pub lan: bool,
    /// `[tun]` changed.
    pub tun: bool,
    /// `[limits]` changed.
    pub limits: bool,
    /// `[accounting]` changed.
    pub accounting: bool,
    /// `[[pool]]` entries by name.
    pub pools: Changes,
    /// `[[plugin]]` entries by name.
    pub plugins: Changes,
    /// `[[link]]` entries by name (their own table changed).
    pub links: Changes,
    /// Links present in both whose sessions run differently now: the link's own entry
    /// changed, or its plugin, its pool or the `[ppp]` defaults it inherits did.
    pub links_affected: BTreeSet<String>,
}

impl ConfigDiff {
    /// What changes from `old` to `new`.
    pub fn between(old: &Config, new: &Config) -> ConfigDiff {
        let pools = Changes::between(&old.pools, &new.pools, |p| &p.name);
        let plugins = Changes::between(&old.plugins, &new.plugins, |p| &p.name);
        let links = Changes::between(&old.links, &new.links, |l| &l.name);
        let mut links_affected = BTreeSet::new();
        for n in &new.links {
            let Some(o) = old.link(&n.name) else {
                continue;
            };
            if o != n || Self::inherited_change(old, new, o, n) {
                links_affected.insert(n.name.clone());
            }
        }
        ConfigDiff {
            system: old.system != new.system,
            management: old.management != new.management,
            ppp: old.ppp != new.ppp,
            lan: old.lan != new.lan,
            tun: old.tun != new.tun,
            limits: old.limits != new.limits,
            accounting: old.accounting != new.accounting,
            pools,
            plugins,
            links,
            links_affected,
        }
    }

    /// Whether something a link uses but does not contain changed.
    fn inherited_change(old: &Config, new: &Config, o: &LinkConfig, n: &LinkConfig) -> bool {
        if old.plugin(&o.plugin) != new.plugin(&n.plugin) {
            return true;
        }
        if n.mode == LinkMode::Terminate {
            if old.effective_ppp(o) != new.effective_ppp(n) {
                return true;
            }
            if let Some(pool) = &n.pool
                && old.pool(pool) != new.pool(pool)
            {
                return true;
            }
        }
        false
    }

    /// Whether the two configurations are the same.
    pub fn is_empty(&self) -> bool {
        *self == ConfigDiff::default()
    }
}
