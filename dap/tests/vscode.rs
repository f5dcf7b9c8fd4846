//! The VS Code extension (editors/vscode) agrees with the adapter: its
//! package.json is valid JSON, contributes the `hindsight` debugger run as
//! `hindsight dap`, and declares the launch attributes the adapter reads.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

fn package() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../editors/vscode/package.json");
    let text = std::fs::read_to_string(&path).expect("editors/vscode/package.json");
    serde_json::from_str(&text).expect("package.json is JSON")
}

#[test]
fn the_extension_runs_the_adapter_with_its_attributes() {
    let p = package();
    let debuggers = p["contributes"]["debuggers"].as_array().unwrap();
    assert_eq!(debuggers.len(), 1);
    let d = &debuggers[0];
    assert_eq!(d["type"], "hindsight");
    assert_eq!(d["program"], "hindsight");
    assert_eq!(d["args"], serde_json::json!(["dap"]));
    let declared: BTreeSet<&str> = d["configurationAttributes"]["launch"]["properties"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let read: BTreeSet<&str> = dap::LAUNCH_ATTRIBUTES.iter().copied().collect();
    assert_eq!(declared, read);
    for c in d["initialConfigurations"].as_array().unwrap() {
        assert_eq!(c["type"], "hindsight");
        assert_eq!(c["request"], "launch");
        for k in c.as_object().unwrap().keys() {
            assert!(
                ["type", "request", "name"].contains(&k.as_str()) || read.contains(k.as_str()),
                "{k}"
            );
        }
    }
    assert_eq!(p["activationEvents"][0], "onDebugResolve:hindsight");
}
