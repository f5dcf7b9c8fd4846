//! `hindsight object FILE STEP EXPR [--full] [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use query::object::{Event, LifeEvent, Part, PartChange, Shown};
use serde_json::{json, Value as Json};

use super::{explain, parse, step_json, step_text};
use crate::out;
use crate::recording::Recording;

/// Print the life of the object EXPR names at STEP: the whole value where
/// it appears, the parts that changed at each change (and the whole value
/// with `full`).
pub fn object(file: &Path, step: u64, src: &str, full: bool, as_json: bool) -> Result<i32> {
    let expr = parse(src)?;
    let rec = Recording::open(file)?;
    rec.check_step(step)?;
    let addr = query::object_at(&rec.reader, step, &expr).map_err(|e| explain(&rec, e.into()))?;
    let mut o = out::stdout();
    query::object_life(&rec.reader, step, addr, as_json, |ev: &LifeEvent<'_>| {
        let state = ev.state;
        let names: Vec<String> = query::object::names_bound_to(state, addr)
            .iter()
            .map(|n| n.to_string())
            .collect();
        let whole = match ev.event {
            Event::Appears => true,
            Event::Changes => full,
            Event::Gone => false,
        };
        let value = whole.then_some(query::Value::Obj(addr));
        if as_json {
            let value = value.as_ref().map_or(Json::Null, |v| v.json(state));
            json_line(&mut o, ev, addr, &names, &value)?;
        } else {
            let mut shown = String::new();
            if ev.event == Event::Changes {
                let parts: Vec<String> = ev.parts.iter().map(part_text).collect();
                shown = format!(" {}", parts.join("; "));
            }
            if let Some(v) = value {
                let sep = if ev.event == Event::Changes { " =" } else { "" };
                shown = format!("{shown}{sep} {}", v.text(state));
            }
            let names = if names.is_empty() {
                String::new()
            } else {
                format!("  (bound to {})", names.join(", "))
            };
            writeln!(
                o,
                "{} {}{shown}{names}",
                step_text(ev.meta),
                ev.event.as_str()
            )?;
        }
        Ok::<_, anyhow::Error>(true)
    })
    .map_err(|e| explain(&rec, e))?;
    o.flush()?;
    Ok(0)
}

/// One event as a JSON line: the step's keys, `what`, `id`, `names`,
/// `value` and, on a change, `changes`. Written piece by piece into one
/// buffer (a map built per line cost most of a long life's time).
fn json_line(
    o: &mut impl Write,
    ev: &LifeEvent<'_>,
    addr: store::ObjAddr,
    names: &[String],
    value: &Json,
) -> Result<()> {
    let mut line = serde_json::to_vec(&Json::Object(step_json(ev.meta)))?;
    // The step's keys without their closing brace, then ours.
    line.pop();
    write!(
        line,
        r#","what":"{}","id":"{:#x}","names":"#,
        ev.event.as_str(),
        addr.0
    )?;
    serde_json::to_writer(&mut line, names)?;
    line.extend_from_slice(b",\"value\":");
    serde_json::to_writer(&mut line, value)?;
    if ev.event == Event::Changes {
        line.extend_from_slice(b",\"changes\":[");
        for (i, c) in ev.parts.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            serde_json::to_writer(&mut line, &part_json(c))?;
        }
        line.push(b']');
    }
    line.extend_from_slice(b"}\n");
    o.write_all(&line)?;
    Ok(())
}

/// `PART: BEFORE -> AFTER`, `(absent)` for a part that is not there.
fn part_text(c: &PartChange) -> String {
    let side = |s: &Option<Shown>| match s {
        Some(Shown::Text(t)) => t.clone(),
        Some(Shown::Json(j)) => j.to_string(),
        None => "(absent)".to_string(),
    };
    format!(
        "{}: {} -> {}",
        c.part.label(),
        side(&c.before),
        side(&c.after)
    )
}

/// `{"part": ..., "before": ..., "after": ...}`, `part` as `diff` names it.
fn part_json(c: &PartChange) -> Json {
    let part = match &c.part {
        Part::Item(i) => json!({ "item": i }),
        Part::Key(k) => json!({ "key": k }),
        Part::Element => json!({ "element": true }),
        Part::Attr(a) => json!({ "attr": a.to_string() }),
        Part::Value => json!({ "value": true }),
    };
    let side = |s: &Option<Shown>| match s {
        Some(Shown::Json(j)) => j.clone(),
        Some(Shown::Text(t)) => json!(t),
        None => Json::Null,
    };
    json!({ "part": part, "before": side(&c.before), "after": side(&c.after) })
}
