//! What the export tests check an export with: REF ids against object
//! ids, every REF resolving, and the balance of a Chrome trace.

use std::collections::HashMap;

use serde_json::Value;

/// The last part of a dotted name.
pub fn short(name: &str) -> &str {
    name.rsplit('.').next().unwrap()
}

/// The REF ids of an export against the recording's object ids: one REF
/// id for one object id, and one object id for one REF id, all through.
#[derive(Default)]
pub struct Ids {
    to_ref: HashMap<String, u64>,
    to_obj: HashMap<u64, String>,
}

impl Ids {
    pub fn pair(&mut self, obj: &str, r: u64, what: &str) {
        assert_eq!(
            *self.to_ref.entry(obj.into()).or_insert(r),
            r,
            "{what}: object {obj} has two REF ids"
        );
        assert_eq!(
            self.to_obj.entry(r).or_insert(obj.into()),
            obj,
            "{what}: REF {r} is two objects"
        );
    }

    /// An encoded value against the state's value `sv`.
    pub fn check(&mut self, enc: &Value, sv: &Value, heap: &Value, what: &str) {
        let ty = sv["type"].as_str().unwrap();
        let repr = sv["repr"].as_str().unwrap();
        match ty {
            "NoneType" => return assert!(enc.is_null(), "{what}: {enc}"),
            "bool" => return assert_eq!(enc, &Value::Bool(repr == "True"), "{what}"),
            "int" => {
                return assert_eq!(
                    enc.as_i64().map(|n| n.to_string()).as_deref(),
                    Some(repr),
                    "{what}"
                )
            }
            "str" if !repr.contains('\\') => {
                return assert_eq!(format!("'{}'", enc.as_str().unwrap()), repr, "{what}")
            }
            _ => {}
        }
        let r = enc
            .as_array()
            .filter(|a| a.len() == 2 && a[0] == "REF")
            .unwrap_or_else(|| panic!("{what}: not a REF: {enc}"));
        let id = r[1].as_u64().unwrap();
        self.pair(sv["id"].as_str().unwrap(), id, what);
        let entry = heap[id.to_string()]
            .as_array()
            .unwrap_or_else(|| panic!("{what}: REF {id} not in the heap"));
        let tag = entry[0].as_str().unwrap();
        match ty {
            "list" => assert_eq!(tag, "LIST", "{what}"),
            "tuple" => assert_eq!(tag, "TUPLE", "{what}"),
            "dict" => assert_eq!(tag, "DICT", "{what}"),
            "set" => assert_eq!(tag, "SET", "{what}"),
            "function" => assert_eq!(tag, "FUNCTION", "{what}"),
            // (The JSON repr of a class is object.__repr__'s: no name to compare.)
            "type" => assert_eq!(tag, "CLASS", "{what}"),
            _ if sv.get("attrs").is_some() => {
                assert_eq!(
                    (tag, entry[1].as_str().unwrap()),
                    ("INSTANCE", short(ty)),
                    "{what}"
                );
                let attrs = sv["attrs"].as_object().unwrap();
                let mut names: Vec<&String> = attrs.keys().collect();
                names.sort();
                assert_eq!(entry.len() - 2, names.len(), "{what}: {entry:?}");
                for (pair, name) in entry[2..].iter().zip(names) {
                    assert_eq!(pair[0], name.as_str(), "{what}");
                    self.check(&pair[1], &attrs[name], heap, &format!("{what}.{name}"));
                }
            }
            _ => {}
        }
    }
}

/// Every REF inside `v` points at an entry of `heap`.
pub fn refs_resolve(v: &Value, heap: &Value, what: &str) {
    match v {
        Value::Array(a) if a.len() == 2 && a[0] == "REF" => {
            assert!(heap.get(a[1].to_string()).is_some(), "{what}: dangling {v}")
        }
        Value::Array(a) => a.iter().for_each(|x| refs_resolve(x, heap, what)),
        Value::Object(m) => m.values().for_each(|x| refs_resolve(x, heap, what)),
        _ => {}
    }
}

/// The slices of a Chrome trace, checked: every `E` closes the last `B`
/// of its thread, every `B` is closed, time goes forward per thread, all
/// within the range. The `B` events' threads and names, in order.
pub fn balanced(trace: &Value, from: u64, to: u64) -> Vec<(u64, String)> {
    let events = trace["traceEvents"].as_array().unwrap();
    let mut open: HashMap<u64, Vec<String>> = HashMap::new();
    let mut last_ts: HashMap<u64, u64> = HashMap::new();
    let mut begun = Vec::new();
    for ev in events {
        let ph = ev["ph"].as_str().unwrap();
        if ph == "M" {
            continue;
        }
        let tid = ev["tid"].as_u64().unwrap();
        let ts = ev["ts"].as_u64().unwrap();
        assert!(ts >= from && ts <= to + 1, "{ev}");
        assert!(
            ts >= *last_ts.get(&tid).unwrap_or(&0),
            "time goes forward: {ev}"
        );
        last_ts.insert(tid, ts);
        let name = ev["name"].as_str().unwrap().to_string();
        match ph {
            "B" => {
                open.entry(tid).or_default().push(name.clone());
                begun.push((tid, name));
            }
            "E" => assert_eq!(open.get_mut(&tid).and_then(Vec::pop), Some(name), "{ev}"),
            other => panic!("unexpected phase {other}"),
        }
    }
    assert!(
        open.values().all(Vec::is_empty),
        "every B has its E: {open:?}"
    );
    begun
}
