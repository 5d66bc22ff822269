//! Reads: one object, or a list with its resourceVersion.

use super::{ListOptions, State, Store};
use crate::catalog::Gr;
use crate::error::ApiError;
use serde_json::Value;
use std::sync::Arc;

impl Store {
    /// Gets one object.
    pub fn get(&self, gr: &Gr, ns: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.get_arc(gr, ns, name).map(|a| (*a).clone())
    }

    /// Gets one object without copying it.
    pub fn get_arc(&self, gr: &Gr, ns: Option<&str>, name: &str) -> Result<Arc<Value>, ApiError> {
        let info = self.info(gr)?;
        let ns = Self::scope_ns(info, ns)?;
        let st = self.lock();
        Self::stored(&st, gr, ns, name).cloned()
    }

    /// The stored object `ns/name` of `gr` (`ns` already resolved for the kind's scope); 404
    /// when there is none.
    pub(super) fn stored<'a>(
        st: &'a State,
        gr: &Gr,
        ns: Option<&str>,
        name: &str,
    ) -> Result<&'a Arc<Value>, ApiError> {
        st.resources
            .get(gr)
            .and_then(|rs| {
                rs.objects
                    .get(&(ns.unwrap_or_default().to_string(), name.to_string()))
            })
            .ok_or_else(|| ApiError::not_found(Self::target(gr, name)))
    }

    /// Lists objects (all namespaces when `ns` is None) and returns the list resourceVersion.
    pub fn list(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<Value>, u64), ApiError> {
        let (items, rv) = self.list_arc(gr, ns, opts)?;
        Ok((items.into_iter().map(|a| (*a).clone()).collect(), rv))
    }

    /// [`Store::list`] without copying objects.
    pub fn list_arc(
        &self,
        gr: &Gr,
        ns: Option<&str>,
        opts: &ListOptions,
    ) -> Result<(Vec<Arc<Value>>, u64), ApiError> {
        self.info(gr)?;
        let st = self.lock();
        let items = st
            .resources
            .get(gr)
            .map(|rs| {
                rs.objects
                    .iter()
                    .filter(|((ons, _), _)| ns.is_none_or(|n| n == ons))
                    .filter(|(_, o)| opts.matches(o))
                    .map(|(_, o)| o.clone())
                    .collect()
            })
            .unwrap_or_default();
        Ok((items, st.rv))
    }
}
