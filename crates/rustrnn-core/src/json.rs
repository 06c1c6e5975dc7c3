//! The strict JSON reader every configuration goes through (model specs,
//! layer configs, optimizers): a key read is checked off, so that leftovers
//! (typos, unsupported options) are reported, and wrong types name the field.

use crate::error::{Result, RnnError};
use crate::names::Names;
use serde_json::{Map, Value};

/// A JSON object whose keys are checked off as they are read, so that
/// leftovers (typos, unsupported options) can be reported.
pub struct Obj<'a> {
    what: String,
    map: &'a Map<String, Value>,
    seen: Vec<&'a str>,
}

impl<'a> Obj<'a> {
    pub fn new(what: impl Into<String>, v: &'a Value) -> Result<Self> {
        let what = what.into();
        let map = v.as_object().ok_or_else(|| RnnError::value(format!("{what}: expected a JSON object, got {v}")))?;
        Ok(Obj { what, map, seen: Vec::new() })
    }

    fn get(&mut self, key: &'static str) -> Option<&'a Value> {
        self.seen.push(key);
        self.map.get(key).filter(|v| !v.is_null())
    }

    /// Where this object sits, for messages (`layers[2]`, `lstm (LSTM)`).
    pub fn what(&self) -> &str {
        &self.what
    }

    fn bad(&self, key: &str, want: &str, got: &Value) -> RnnError {
        RnnError::value(format!("{}.{key}: expected {want}, got {got}", self.what))
    }

    pub fn usize(&mut self, key: &'static str, default: Option<usize>) -> Result<usize> {
        match self.get(key) {
            Some(v) => v.as_u64().map(|u| u as usize).ok_or_else(|| self.bad(key, "a non-negative integer", v)),
            None => default.ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn positive(&mut self, key: &'static str, default: Option<usize>) -> Result<usize> {
        let v = self.usize(key, default)?;
        if v == 0 {
            return Err(RnnError::value(format!("{}.{key}: expected a positive integer, got 0", self.what)));
        }
        Ok(v)
    }

    pub fn f64(&mut self, key: &'static str, default: Option<f64>) -> Result<f64> {
        match self.get(key) {
            Some(v) => v.as_f64().filter(|x| x.is_finite()).ok_or_else(|| self.bad(key, "a finite number", v)),
            None => default.ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn opt_f64(&mut self, key: &'static str) -> Result<Option<f64>> {
        match self.get(key) {
            Some(v) => v.as_f64().filter(|x| x.is_finite()).map(Some).ok_or_else(|| self.bad(key, "a finite number or null", v)),
            None => Ok(None),
        }
    }

    pub fn bool(&mut self, key: &'static str, default: bool) -> Result<bool> {
        match self.get(key) {
            Some(v) => v.as_bool().ok_or_else(|| self.bad(key, "true or false", v)),
            None => Ok(default),
        }
    }

    pub fn str(&mut self, key: &'static str, default: Option<&str>) -> Result<String> {
        match self.get(key) {
            Some(v) => v.as_str().map(str::to_owned).ok_or_else(|| self.bad(key, "a string", v)),
            None => default.map(str::to_owned).ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    /// A name of one of the [`Names`] tables.
    pub fn name<T: Names>(&mut self, key: &'static str, default: Option<T>) -> Result<T> {
        match self.get(key) {
            Some(v) => T::from_name(v.as_str().ok_or_else(|| self.bad(key, "a string", v))?),
            None => default.ok_or_else(|| RnnError::value(format!("{}.{key}: missing", self.what))),
        }
    }

    pub fn value(&mut self, key: &'static str) -> Option<&'a Value> {
        self.get(key)
    }

    /// Fails on any key that was never read.
    pub fn finish(self) -> Result<()> {
        let unknown: Vec<&String> = self.map.keys().filter(|k| !self.seen.contains(&k.as_str())).collect();
        if let Some(k) = unknown.first() {
            return Err(RnnError::value(format!("{}: unknown option {k:?}; expected one of {}", self.what, self.seen.join(", "))));
        }
        Ok(())
    }
}
