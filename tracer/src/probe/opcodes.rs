//! The probe's opcode filter (`--granularity opcode`): an opcode event
//! whose instruction is not a step (it neither binds a name nor mutates an
//! object in place) returns in the target without a trap. The probe reads
//! the instruction's opcode where the frame is (3.12+: behind the
//! instrumentation, in the code's monitoring data) and looks it up in a
//! table the recorder built from the version's opcode table (probe.c,
//! `opcode_step`); an instruction it cannot read traps, and the recorder
//! decides.

use symbols::Layout;

use super::layout::*;
use super::Probe;

/// Which instructions are steps, as bytes of the instruction stream.
#[derive(Debug, Clone)]
pub struct OpcodeSteps {
    /// One per opcode: 0 not a step, 1 a step, 2 a step when its argument
    /// is one of `inplace`.
    pub steps: [u8; 256],
    /// One per argument of a kind-2 opcode: 1 when it makes it a step.
    pub inplace: [u8; 256],
    /// `INSTRUMENTED_LINE` and `INSTRUMENTED_INSTRUCTION` (3.12+).
    pub instrumented_line: Option<u8>,
    pub instrumented_instruction: Option<u8>,
    /// 3.8-3.9: `f_lasti` counts bytes (else code units).
    pub lasti_in_bytes: bool,
}

/// The offsets `opcode_step` follows, from the interpreter's layout;
/// `None` when one it needs is missing.
fn offsets(layout: &Layout, s: &OpcodeSteps) -> Option<Vec<(usize, u64)>> {
    let no = NO_FIELD as u64;
    let opt = |o: Option<u32>| o.map_or(no, u64::from);
    let c = &layout.code;
    let mut out = match layout.frame.f_frame {
        Some(f_frame) => vec![
            (OFF_F_FRAME, u64::from(f_frame)),
            (OFF_F_CODE, u64::from(layout.iframe.f_code?)),
            (OFF_OPC_PREV_INSTR, u64::from(layout.iframe.prev_instr?)),
            (OFF_OPC_ADAPTIVE, u64::from(c.co_code_adaptive?)),
        ],
        None => vec![
            (OFF_F_FRAME, no),
            (OFF_F_CODE, u64::from(layout.frame.f_code?)),
            (OFF_OPC_LASTI, u64::from(layout.frame.f_lasti?)),
            (OFF_OPC_LASTI_SHIFT, u64::from(!s.lasti_in_bytes)),
            (OFF_OPC_CO_CODE, u64::from(c.co_code?)),
            (OFF_OPC_OB_SIZE, u64::from(layout.object.ob_size)),
            (OFF_OPC_SVAL, u64::from(layout.objects.bytes_ob_sval)),
        ],
    };
    let instrumented = s.instrumented_line.is_some() || s.instrumented_instruction.is_some();
    if instrumented
        && (c.co_monitoring.is_none()
            || c.mon_lines.is_none()
            || c.mon_per_instruction_opcodes.is_none()
            || c.line_data_original_opcode.is_none()
            || c.line_data_size.is_none())
    {
        return None;
    }
    out.extend([
        (
            OFF_OPC_INSTR_LINE,
            s.instrumented_line.map_or(256, u64::from),
        ),
        (
            OFF_OPC_INSTR_INSTR,
            s.instrumented_instruction.map_or(256, u64::from),
        ),
        (OFF_OPC_MON, opt(c.co_monitoring)),
        (OFF_OPC_MON_LINES, opt(c.mon_lines)),
        (OFF_OPC_MON_PER, opt(c.mon_per_instruction_opcodes)),
        (OFF_OPC_LINE_ORIG, opt(c.line_data_original_opcode)),
        (OFF_OPC_LINE_SIZE, opt(c.line_data_size)),
    ]);
    Some(out)
}

impl Probe {
    /// Let opcode events of instructions that are not steps go without a
    /// trap; false (and off: every opcode event traps) when the layout
    /// lacks an offset it follows.
    pub fn enable_opcode_filter(&mut self, layout: &Layout, steps: &OpcodeSteps) -> bool {
        let Some(offsets) = offsets(layout, steps) else {
            log::info!(target: "tracer::probe", "opcode filter off: the layout lacks an offset it needs");
            return false;
        };
        for (off, v) in offsets {
            self.set_word(off, v);
        }
        self.ctx_mut()[OPC_STEPS..OPC_STEPS + 256].copy_from_slice(&steps.steps);
        self.ctx_mut()[OPC_INPLACE..OPC_INPLACE + 256].copy_from_slice(&steps.inplace);
        self.set_word(OFF_OPC_ON, 1);
        true
    }

    /// Opcode events the filter answered without a trap so far.
    pub fn opcodes_skipped(&self) -> u64 {
        self.word(OFF_OPC_SKIPPED)
    }
}
