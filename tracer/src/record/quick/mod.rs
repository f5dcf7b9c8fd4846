//! Quick steps: a logged step whose changed words are all slots (locals of
//! the armed frame, items of lists the last walk read) now pointing at
//! immutable atoms is recorded from those words alone: the bindings that
//! changed, the new atoms, the lists' new items and the atoms no longer
//! reached (docs/probe.md, "Quick steps"). Any other step, or anything the
//! quick step cannot vouch for, is decoded whole as before.

pub(super) mod scratch;

use store::{ObjAddr, Writer};

use super::error::RecordError;
use super::recorder::Recorder;
use crate::addr::RemoteAddr;
use crate::cpython::{ItemChange, LineWatch, QuickStep};
use crate::probe::LoggedStep;
use scratch::QuickScratch;

impl Recorder {
    /// Record the logged step `step` of `frame` (the shadow already that of
    /// the step) as a quick step: false, with nothing recorded or changed,
    /// when it is not one.
    pub(super) fn quick_step(
        &mut self,
        writer: &Writer,
        step: &LoggedStep,
        watch: &LineWatch,
        (thread, frame): (u32, RemoteAddr),
        time: u64,
    ) -> Result<bool, RecordError> {
        if !self.quick {
            return Ok(false);
        }
        let mut q = std::mem::take(&mut self.quick_scratch);
        let ok = self.sort_words(step, frame, &mut q) && self.rebind(&mut q);
        let mut heap_ops = Vec::new();
        let ok = ok && {
            let qs = QuickStep {
                items: &q.items,
                news: &q.news,
                olds: &q.olds,
                roots: &q.roots,
                words: &q.words,
                copied: &q.copied,
            };
            let mem = self.cache.logged_mem();
            self.decoder.quick_ops(&mem, &qs, &mut heap_ops)
        };
        if ok {
            let meta = self.logged_meta(watch, step, thread);
            let mut ops = Vec::with_capacity(4 + heap_ops.len());
            self.differ.line_step(meta, &mut ops);
            ops.append(&mut heap_ops);
            self.differ.locals_step(&q.bindings, &mut ops);
            self.quick_scratch = q;
            writer.send_at(ops, Some(time))?;
            self.steps += 1;
            return Ok(true);
        }
        self.quick_scratch = q;
        Ok(false)
    }

    /// Sort the step's changed words into local slots and list items
    /// (words that are not slots are the probe's to vouch for: reference
    /// counts and bytes of freed or copied immutable objects). False when
    /// a slot is neither, or is bound or unbound by the step.
    fn sort_words(&self, step: &LoggedStep, frame: RemoteAddr, q: &mut QuickScratch) -> bool {
        q.locals.clear();
        q.items.clear();
        q.words.clear();
        q.copied.clear();
        q.copied
            .extend(step.caps.iter().map(|c| (c.addr, c.objlen)));
        let Some(top) = self.decoder.top_slots().filter(|t| t.frame == frame) else {
            log::trace!(target: "tracer::quick", "declined: not plain slots");
            return false;
        };
        let n = top.code.localsplus_names.len() as u64;
        for w in &step.words {
            let Some((addr, slot)) = self.cache.word_at(w.off) else {
                return false;
            };
            if !slot {
                q.words.push(addr);
                continue;
            }
            if w.old == 0 || w.new == 0 {
                log::trace!(target: "tracer::quick", "declined: a slot bound or unbound");
                return false;
            }
            let (old, new) = (RemoteAddr(w.old), RemoteAddr(w.new));
            match addr.0.checked_sub(top.base.0) {
                Some(off) if off / 8 < n && off % 8 == 0 => {
                    q.locals.push(((off / 8) as usize, old, new));
                }
                _ => match self.decoder.list_item_at(addr) {
                    Some((list, index)) => q.items.push(ItemChange {
                        list,
                        index,
                        old,
                        new,
                    }),
                    None => {
                        log::trace!(target: "tracer::quick", "declined: slot {:#x} of nothing known", addr.0);
                        return false;
                    }
                },
            }
        }
        true
    }

    /// The top frame's bindings after the step, and the roots, news and
    /// olds of its local changes. False when a changed slot's binding is
    /// not what the store has (the step is then decoded whole).
    fn rebind(&self, q: &mut QuickScratch) -> bool {
        let Some(top) = self.decoder.top_slots() else {
            return false;
        };
        let (locals, globals) = self.differ.scopes();
        q.bindings.clear();
        q.bindings.extend_from_slice(locals);
        q.news.clear();
        q.olds.clear();
        for &(i, old, new) in &q.locals {
            let name = &top.code.localsplus_names[i];
            match q.bindings.iter_mut().find(|(k, _)| k == name) {
                Some(b) if b.1 == ObjAddr(old.0) => b.1 = ObjAddr(new.0),
                _ => {
                    log::trace!(target: "tracer::quick", "declined: binding not as stored");
                    return false;
                }
            }
            q.news.push(new);
            q.olds.push(old);
        }
        q.roots.clear();
        let values = q
            .bindings
            .iter()
            .chain(globals)
            .map(|(_, v)| RemoteAddr(v.0));
        q.roots.extend(values);
        true
    }
}
