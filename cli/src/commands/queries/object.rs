//! `hindsight object FILE STEP EXPR [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use query::object::Event;
use serde_json::{json, Value as Json};

use super::{explain, parse, step_json, step_text};
use crate::out;
use crate::recording::Recording;

/// Print the life of the object EXPR names at STEP.
pub fn object(file: &Path, step: u64, src: &str, as_json: bool) -> Result<i32> {
    let expr = parse(src)?;
    let rec = Recording::open(file)?;
    rec.check_step(step)?;
    let addr = query::object_at(&rec.reader, step, &expr).map_err(|e| explain(&rec, e.into()))?;
    let mut o = out::stdout();
    query::object_life(&rec.reader, step, addr, |m, e, state| {
        let names: Vec<String> = query::object::names_bound_to(state, addr)
            .iter()
            .map(|n| n.to_string())
            .collect();
        let value = (e != Event::Gone).then_some(query::Value::Obj(addr));
        if as_json {
            let mut j = step_json(m);
            j.insert("what".into(), json!(e.as_str()));
            j.insert("id".into(), json!(format!("{:#x}", addr.0)));
            j.insert("names".into(), json!(names));
            j.insert(
                "value".into(),
                value.as_ref().map_or(Json::Null, |v| v.json(state)),
            );
            writeln!(o, "{}", Json::Object(j))?;
        } else {
            let shown = value
                .map(|v| format!(" {}", v.text(state)))
                .unwrap_or_default();
            let names = if names.is_empty() {
                String::new()
            } else {
                format!("  (bound to {})", names.join(", "))
            };
            writeln!(o, "{} {}{shown}{names}", step_text(m), e.as_str())?;
        }
        Ok::<_, anyhow::Error>(true)
    })
    .map_err(|e| explain(&rec, e))?;
    o.flush()?;
    Ok(0)
}
