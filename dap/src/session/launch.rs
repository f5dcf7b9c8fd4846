//! `launch`: the recording opened, or the program recorded first by the
//! server's [`Launcher`](crate::Launcher) and then opened; the lines that
//! ran read for the breakpoints.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use store::Reader;

use super::{Answer, Loaded, Server};
use crate::breakpoints::Breakpoints;
use crate::{ProgramLaunch, Recorded};

impl Server<'_> {
    /// `launch`: open the recording (recording the program first).
    pub(super) fn launch(&mut self, args: &Value) -> Answer {
        if self.loaded.is_some() {
            return Err("this session is already launched".into());
        }
        let s = |k: &str| args.get(k).and_then(Value::as_str).map(str::to_string);
        let cwd = s("cwd").map(PathBuf::from);
        let here = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        let base = cwd.clone().unwrap_or_else(|| here.clone());
        self.stop_on_entry = args
            .get("stopOnEntry")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let mut events = Vec::new();
        let (path, temporary) = match (s("recording"), s("program")) {
            (Some(r), _) => (base.join(r), None),
            (None, Some(program)) => {
                let (path, temporary, out) = self.record(args, &program, cwd.clone(), &base)?;
                for (category, text) in [("stdout", out.stdout), ("stderr", out.stderr)] {
                    if !text.is_empty() {
                        events.push(("output", json!({"category": category, "output": text})));
                    }
                }
                (path, temporary)
            }
            (None, None) => {
                return Err("launch needs \"recording\": a .hsr file, or \"program\": a Python script to record".into())
            }
        };
        let reader = Reader::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        if reader.step_count() == 0 {
            return Err(format!(
                "{} holds no steps: nothing to replay",
                path.display()
            ));
        }
        let program_cwd = PathBuf::from(&reader.header().cwd);
        let mut breakpoints = Breakpoints::scan(&reader, &program_cwd)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        for (p, lines) in std::mem::take(&mut self.pending) {
            breakpoints.set(&p, &lines);
        }
        log::info!(target: "dap", "replaying {} ({} steps)", path.display(), reader.step_count());
        self.loaded = Some(Loaded {
            reader,
            cwd: program_cwd,
            temporary,
            breakpoints,
            stop: None,
            ended: false,
        });
        events.push(("initialized", json!({})));
        if self.configured {
            let (_, more) = self.first_stop()?;
            events.extend(more);
        }
        Ok((json!({}), events))
    }

    /// Record the program of a `launch`: (recording, whether it is ours to
    /// remove, the program's output).
    fn record(
        &mut self,
        args: &Value,
        program: &str,
        cwd: Option<PathBuf>,
        base: &Path,
    ) -> Result<(PathBuf, Option<PathBuf>, Recorded), String> {
        let Some(launcher) = self.launcher.as_mut() else {
            return Err("this adapter replays recordings only: give \"recording\"".into());
        };
        let list = args
            .get("args")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let prog_args = list
            .iter()
            .map(|a| {
                a.as_str()
                    .map(str::to_string)
                    .ok_or("\"args\" must be a list of strings")
            })
            .collect::<Result<Vec<_>, _>>()?;
        let (output, temporary) = match args.get("output").and_then(Value::as_str) {
            Some(o) => (base.join(o), None),
            None => {
                let p = std::env::temp_dir().join(format!(
                    "hindsight-dap-{}-{}.hsr",
                    std::process::id(),
                    self.seq
                ));
                (p.clone(), Some(p))
            }
        };
        let launch = ProgramLaunch {
            python: args
                .get("python")
                .and_then(Value::as_str)
                .unwrap_or("python3")
                .to_string(),
            program: base.join(program).to_string_lossy().into_owned(),
            args: prog_args,
            cwd,
            output: output.clone(),
            max_steps: args.get("maxSteps").and_then(Value::as_u64),
        };
        let recorded = launcher.record(&launch).inspect_err(|_| {
            if let Some(t) = &temporary {
                let _ = std::fs::remove_file(t);
            }
        })?;
        Ok((output, temporary, recorded))
    }
}
