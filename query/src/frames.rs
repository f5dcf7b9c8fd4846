//! Frames known by their place. The store does not name frame objects, so
//! a query knows a frame by the thread that runs it, its depth on the
//! stack, and its function and file; a module's globals by the file. The
//! stack is kept as small ids of (function, file), from the stack ops.

use std::collections::HashMap;

/// Where a binding lives: a frame, or a module's globals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Key {
    /// A frame: its thread, depth (1 for the outermost) and function id.
    Local {
        /// OS thread id.
        thread: u32,
        /// Frames on the stack, this one included.
        depth: u32,
        /// The id of its (function, file).
        frame: u32,
    },
    /// A module's globals, by the id of its file.
    Global {
        /// The file's id.
        file: u32,
    },
}

/// Frame placeholder for an empty stack.
const NO_FRAME: u32 = u32::MAX;

/// The current stack as small ids of (function, file).
#[derive(Default)]
pub struct Frames {
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
    /// `Op::StackTruncate`.
    pub fn truncate(&mut self, n: u32) {
        let n = (n as usize).min(self.stack.len());
        self.popped.clear();
        self.popped.extend(self.stack.drain(n..));
        self.popped_at = n;
    }

    /// `Op::StackPush`.
    pub fn push(&mut self, function: &str, file: &str) {
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

    /// The stack is now `stack` (the replay jumped over steps): the ids
    /// of functions seen before are kept.
    pub fn reset(&mut self, stack: &[store::FrameRec]) {
        self.truncate(0);
        for f in stack {
            self.push(&f.function, &f.file);
        }
    }

    /// Frames on the stack.
    pub fn depth(&self) -> u32 {
        self.stack.len() as u32
    }

    /// The innermost frame and its file's id.
    pub fn top(&self) -> (u32, u32) {
        match self.stack.last() {
            Some(&id) => (id, self.table[id as usize].2),
            None => (NO_FRAME, NO_FRAME),
        }
    }

    /// The keys of the step's frame and of its module.
    pub fn keys(&self, thread: u32) -> (Key, Key) {
        let (frame, file) = self.top();
        (
            Key::Local {
                thread,
                depth: self.depth(),
                frame,
            },
            Key::Global { file },
        )
    }
}
