//! Which binding of NAME a step shows, and whether it changed: NAME is
//! looked up in the locals of the step's frame, else in its module's
//! globals, and compared with what that same frame (or module) saw the last
//! time it ran. Control coming back to a frame from a call therefore shows
//! nothing new; a rebinding, an unbinding, or a change anywhere inside the
//! object (`watch.rs`) does, unless the line listed just before showed that
//! very object and value (the change was made, and listed, through another
//! frame's binding of NAME).
//!
//! The store does not name frame objects, so a frame is known by its place:
//! the thread, its depth on the stack, and its function and file. A
//! generator resumed at the same depth is the same frame; a new call of a
//! function at a depth where it ran before remembers what the last call saw
//! there (an argument bound to the same object as last time is not a
//! change; a local bound again after the call began is).

use std::collections::HashMap;

use anyhow::{anyhow, Result};
use store::{ObjAddr, OpView, Scope, StepView};

use super::watch::{FxMap, Look, Watch};

/// Where a binding lives: a frame, or a module's globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Key {
    Local { thread: u32, depth: u32, frame: u32 },
    Global { file: u32 },
}

/// Frame placeholder for an empty stack.
const NO_FRAME: u32 = u32::MAX;

/// The current stack as small ids of (function, file).
#[derive(Default)]
struct Frames {
    stack: Vec<u32>,
    /// Frames the last truncation removed, from depth `popped_at` on: a
    /// line step pops and pushes the same frame, found here by comparing
    /// two strings instead of looking both up.
    popped: Vec<u32>,
    popped_at: usize,
    /// By id: function, file, and the file's id.
    table: Vec<(Box<str>, Box<str>, u32)>,
    /// file -> function -> frame id.
    ids: HashMap<Box<str>, HashMap<Box<str>, u32>>,
    file_ids: HashMap<Box<str>, u32>,
}

impl Frames {
    fn truncate(&mut self, n: u32) {
        let n = (n as usize).min(self.stack.len());
        self.popped.clear();
        self.popped.extend(self.stack.drain(n..));
        self.popped_at = n;
    }

    fn push(&mut self, function: &str, file: &str) {
        let depth = self.stack.len();
        let again = depth
            .checked_sub(self.popped_at)
            .and_then(|i| self.popped.get(i))
            .copied()
            .filter(|&id| {
                let (f, fl, _) = &self.table[id as usize];
                **f == *function && **fl == *file
            });
        let id = match again {
            Some(id) => id,
            None => self.id(function, file),
        };
        self.stack.push(id);
    }

    fn id(&mut self, function: &str, file: &str) -> u32 {
        if let Some(&id) = self.ids.get(file).and_then(|m| m.get(function)) {
            return id;
        }
        let next_file = self.file_ids.len() as u32;
        let file_id = *self.file_ids.entry(file.into()).or_insert(next_file);
        let id = self.table.len() as u32;
        self.table.push((function.into(), file.into(), file_id));
        self.ids
            .entry(file.into())
            .or_default()
            .insert(function.into(), id);
        id
    }

    /// The innermost frame and its file's id.
    fn top(&self) -> (u32, u32) {
        match self.stack.last() {
            Some(&id) => (id, self.table[id as usize].2),
            None => (NO_FRAME, NO_FRAME),
        }
    }
}

/// A step at which NAME changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    /// The object NAME is bound to.
    pub addr: ObjAddr,
    /// Nothing the recording shows of it changed: it changed past a size
    /// limit (a dict beyond its first 10,000 items).
    pub past_cut: bool,
}

/// NAME followed across the steps of a recording.
pub struct Tracker<'n> {
    name: &'n str,
    frames: Frames,
    /// NAME in the locals, and in the globals, of the current step.
    local: Option<ObjAddr>,
    global: Option<ObjAddr>,
    /// What each frame or module saw last.
    memory: FxMap<Key, Look>,
    /// What the last listed step showed.
    last_listed: Option<Look>,
    /// The heap and the watched values.
    pub watch: Watch,
    /// Whether any step bound NAME at all.
    pub bound_ever: bool,
}

impl<'n> Tracker<'n> {
    /// A tracker of `name`, before the first step.
    pub fn new(name: &'n str) -> Tracker<'n> {
        Tracker {
            name,
            frames: Frames::default(),
            local: None,
            global: None,
            memory: FxMap::default(),
            last_listed: None,
            watch: Watch::default(),
            bound_ever: false,
        }
    }

    /// Apply one step's ops; what NAME is bound to when this step shows a
    /// change.
    pub fn step(&mut self, s: &StepView<'_>) -> Result<Option<Change>> {
        let n = s.meta.step.0;
        for op in s.ops() {
            match op? {
                OpView::StackTruncate(k) => self.frames.truncate(k),
                OpView::StackPush(f) => self.frames.push(f.function, f.file),
                OpView::ClearScope(scope) => *self.scope(scope) = None,
                OpView::Bind { scope, name, value } if name == self.name => {
                    self.bound_ever = true;
                    *self.scope(scope) = Some(value);
                }
                OpView::Unbind { scope, name } if name == self.name => *self.scope(scope) = None,
                OpView::Bind { .. } | OpView::Unbind { .. } => {}
                OpView::HeapSet(a, node) => {
                    let node = node
                        .decode()
                        .map_err(|e| anyhow!("a node of step {n} does not decode ({e})"))?;
                    self.watch.set(a, node);
                }
                OpView::HeapItems {
                    addr,
                    start,
                    new,
                    len,
                } => self
                    .watch
                    .items(addr, start, &new, len)
                    .map_err(|e| anyhow!("step {n} cannot be applied: {e}"))?,
                OpView::HeapDel(a) => self.watch.del(a),
            }
        }
        Ok(self.changed(s.meta.thread))
    }

    fn scope(&mut self, scope: Scope) -> &mut Option<ObjAddr> {
        match scope {
            Scope::Locals => &mut self.local,
            Scope::Globals => &mut self.global,
        }
    }

    /// Compare what the step shows with what its frame (or module) saw
    /// last, and remember it.
    fn changed(&mut self, thread: u32) -> Option<Change> {
        let (frame, file) = self.frames.top();
        let slot = Key::Local {
            thread,
            depth: self.frames.stack.len() as u32,
            frame,
        };
        let module = Key::Global { file };
        let (key, addr) = match (self.local, self.global) {
            (Some(a), _) => (slot, a),
            (None, Some(a)) => {
                // Not a local of this frame (now): its next binding is one.
                self.forget(slot);
                (module, a)
            }
            (None, None) => {
                self.forget(slot);
                self.forget(module);
                return None;
            }
        };
        let look = self.watch.look(addr);
        if self.memory.get(&key) == Some(&look) {
            return None;
        }
        self.watch.hold(addr);
        let old = self.memory.insert(key, look);
        if let Some(old) = old {
            self.watch.release(old.addr);
        }
        // A frame catching up with a change the line before already showed
        // (made through another frame's binding of NAME: `grow(p)` changed
        // `p`, and the caller's `p` is that object): nothing new to list.
        // A fresh binding is still listed.
        if old.is_some() && self.last_listed == Some(look) {
            return None;
        }
        self.last_listed = Some(look);
        Some(Change {
            addr,
            past_cut: old.is_some_and(|o| look.only_past_cut(&o)),
        })
    }

    fn forget(&mut self, key: Key) {
        if let Some(old) = self.memory.remove(&key) {
            self.watch.release(old.addr);
        }
    }
}
