//! `hindsight diff FILE A B [--json]`.

use std::io::Write;
use std::path::Path;

use anyhow::Result;
use query::diff::{BindingChange, ObjectChange, Part};
use serde_json::{json, Value as Json};
use store::{ObjAddr, State};

use super::{explain, step_json, step_text};
use crate::out;
use crate::recording::Recording;

/// Print what changed from step A to step B.
pub fn diff(file: &Path, a: u64, b: u64, as_json: bool) -> Result<i32> {
    let rec = Recording::open(file)?;
    rec.check_step(a)?;
    rec.check_step(b)?;
    let d = query::diff(&rec.reader, a, b).map_err(|e| explain(&rec, e.into()))?;
    let (Some(ma), Some(mb)) = (&d.a.meta, &d.b.meta) else {
        return Ok(0);
    };
    let mut o = out::stdout();
    let val = |s: &State, v: Option<ObjAddr>| v.map(|v| values::render::value_json(s, v, 1));
    let text = |s: &State, v: Option<ObjAddr>| {
        v.map_or_else(
            || "(absent)".to_string(),
            |v| values::text::value_text(s, v),
        )
    };
    let scope = |which: &str| -> Vec<&BindingChange> {
        d.bindings.iter().filter(|c| c.scope == which).collect()
    };
    if as_json {
        let bindings = |which: &str, compared: bool| {
            if !compared {
                return Json::Null;
            }
            Json::Array(
                scope(which)
                    .iter()
                    .map(|c| {
                        json!({"name": &*c.name, "before": val(&d.a, c.before), "after": val(&d.b, c.after)})
                    })
                    .collect(),
            )
        };
        let objects: Vec<Json> = d
            .objects
            .iter()
            .map(|c| {
                json!({
                    "id": format!("{:#x}", c.addr.0),
                    "path": c.path,
                    "type": &*c.type_name,
                    "part": part_json(c),
                    "before": val(&d.a, c.before),
                    "after": val(&d.b, c.after),
                })
            })
            .collect();
        let j = json!({
            "a": Json::Object(step_json(ma)),
            "b": Json::Object(step_json(mb)),
            "locals": bindings("locals", d.same_frame),
            "globals": bindings("globals", d.same_module),
            "objects": objects,
        });
        writeln!(o, "{j}")?;
        o.flush()?;
        return Ok(0);
    }
    writeln!(o, "from {}", step_text(ma))?;
    writeln!(o, "to   {}", step_text(mb))?;
    for (which, title, compared) in [
        ("locals", "Locals", d.same_frame),
        ("globals", "Globals", d.same_module),
    ] {
        if !compared {
            writeln!(
                o,
                "{title}: not compared (the steps run in different {})",
                if which == "locals" {
                    "frames"
                } else {
                    "modules"
                }
            )?;
            continue;
        }
        writeln!(o, "{title}:")?;
        for c in scope(which) {
            let line = match (c.before, c.after) {
                (None, a) => format!("+ {} = {}", c.name, text(&d.b, a)),
                (b, None) => format!("- {} = {}", c.name, text(&d.a, b)),
                (b, a) => format!("~ {}: {} -> {}", c.name, text(&d.a, b), text(&d.b, a)),
            };
            writeln!(o, "  {line}")?;
        }
    }
    writeln!(o, "Objects:")?;
    for c in &d.objects {
        writeln!(
            o,
            "  {} ({} at {:#x}){}: {} -> {}",
            c.path,
            c.type_name,
            c.addr.0,
            part_text(c),
            text(&d.a, c.before),
            text(&d.b, c.after)
        )?;
    }
    o.flush()?;
    Ok(0)
}

fn part_json(c: &ObjectChange) -> Json {
    match &c.part {
        Part::Item(i) => json!({"item": i}),
        Part::Key(k) => json!({"key": k}),
        Part::Element => json!({"element": true}),
        Part::Attr(a) => json!({"attr": &**a}),
        Part::Replaced => json!({"replaced": true}),
    }
}

fn part_text(c: &ObjectChange) -> String {
    match &c.part {
        Part::Item(i) => format!(" [{i}]"),
        Part::Key(k) => format!(" [{k}]"),
        Part::Element => " element".into(),
        Part::Attr(a) => format!(" .{a}"),
        Part::Replaced => " replaced by another object at its address".into(),
    }
}
