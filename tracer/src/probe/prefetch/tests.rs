//! Tests of the stop cache: plans, misses, batches, and the probe's shadow.

use super::*;
use crate::memory::testmem::VecMem;
use crate::memory::MemError;

fn mem() -> VecMem {
    VecMem::new((0..65536u32).map(|i| (i % 253) as u8).collect())
}

fn read(m: &dyn Memory, addr: u64, len: usize) -> Result<Vec<u8>, MemError> {
    let mut b = vec![0u8; len];
    m.read(RemoteAddr(addr), &mut b).map(|_| b)
}

#[test]
fn second_stop_reads_its_plan_in_one_call() {
    let target = mem();
    let cache = StopCache::new();
    cache.begin(&target);
    let want = [
        (0x1010u64, 16usize),
        (0x1040, 8),
        (0x5000, 64),
        (0x9000, 100),
    ];
    for &(a, l) in &want {
        assert_eq!(
            read(&cache.mem(&target), a, l).unwrap(),
            target.get(a, l).unwrap()
        );
    }
    cache.end();
    // 0x1040 is on the page the miss at 0x1010 read whole.
    assert_eq!(target.calls.get(), 3);
    // The target changes between stops: the cache must show the new bytes.
    target.data.borrow_mut()[0x4000] ^= 0xff;
    target.calls.set(0);
    cache.begin(&target);
    assert_eq!(target.calls.get(), 1);
    for &(a, l) in &want {
        assert_eq!(
            read(&cache.mem(&target), a, l).unwrap(),
            target.get(a, l).unwrap()
        );
    }
    assert_eq!(target.calls.get(), 1, "every read answered from the plan");
    // A read of new memory still works, and one past the end fails.
    assert_eq!(
        read(&cache.mem(&target), 0x2000, 4).unwrap(),
        target.get(0x2000, 4).unwrap()
    );
    assert!(read(&cache.mem(&target), 0x20000, 4).is_err());
    cache.end();
    let (hits, misses) = cache.counts();
    assert_eq!((hits, misses), (5, 5));
}

#[test]
fn batches_mix_hits_misses_and_failures() {
    let target = mem();
    let cache = StopCache::new();
    cache.begin(&target);
    let _ = read(&cache.mem(&target), 0x1100, 32);
    let reqs = [
        ReadReq {
            addr: RemoteAddr(0x1108),
            len: 8,
        }, // hit
        ReadReq {
            addr: RemoteAddr(0x3000),
            len: 16,
        }, // miss
        ReadReq {
            addr: RemoteAddr(0x90000),
            len: 8,
        }, // unreadable
        ReadReq {
            addr: RemoteAddr(0x1100),
            len: 32,
        }, // hit
    ];
    let mut out = vec![0u8; 64];
    let mut ok = Vec::new();
    cache.mem(&target).read_batch(&reqs, &mut out, &mut ok);
    assert_eq!(ok, vec![true, true, false, true]);
    assert_eq!(&out[0..8], &target.get(0x1108, 8).unwrap()[..]);
    assert_eq!(&out[8..24], &target.get(0x3000, 16).unwrap()[..]);
    assert_eq!(&out[24..32], &[0u8; 8]);
    assert_eq!(&out[32..64], &target.get(0x1100, 32).unwrap()[..]);
    // The miss is cached for the rest of the stop.
    let calls = target.calls.get();
    assert_eq!(
        read(&cache.mem(&target), 0x3004, 8).unwrap(),
        target.get(0x3004, 8).unwrap()
    );
    assert_eq!(target.calls.get(), calls);
    // After forget, reads go to the target again.
    cache.forget();
    let _ = read(&cache.mem(&target), 0x3004, 8);
    assert_eq!(target.calls.get(), calls + 1);
}

#[test]
fn plan_merges_near_ranges_and_drops_unmapped_ones() {
    let target = mem();
    let cache = StopCache::new();
    cache.begin(&target);
    for a in [0x1000u64, 0x1020, 0x1100, 0x3000] {
        let _ = read(&cache.mem(&target), a, 8);
    }
    cache.end();
    {
        let g = cache.inner.borrow();
        let plan: Vec<(u64, usize)> = g.plan.iter().map(|r| (r.addr.0, r.len)).collect();
        // Each range widened within its page (256 bytes before, 512 after).
        assert_eq!(plan, vec![(0x1000, 0x308), (0x3000, 0x208)]);
    }
    // Memory that disappears leaves its range out of the spans.
    target.data.borrow_mut().truncate(0x1000);
    cache.begin(&target);
    assert!(read(&cache.mem(&target), 0x3000, 8).is_err());
    assert_eq!(
        read(&cache.mem(&target), 0x1020, 8).unwrap(),
        target.get(0x1020, 8).unwrap()
    );
}

/// Play the probe's part before a trap at frame 0x9000: refresh the plan
/// from `target`.
fn refresh(cache: &StopCache, target: &VecMem) {
    cache
        .probe_mut()
        .as_mut()
        .unwrap()
        .run_here(0x9000, &|addr, buf| {
            buf.copy_from_slice(&target.get(addr, buf.len()).unwrap())
        });
}

#[test]
fn the_probes_shadow_answers_the_plan() {
    let target = mem();
    let cache = StopCache::new();
    cache.begin(&target);
    for a in [0x1010u64, 0x5000] {
        let _ = read(&cache.mem(&target), a, 16);
    }
    cache.attach_probe(Probe::for_tests());
    cache.end();
    // The probe copies the plan before the trap; the stop reads nothing.
    refresh(&cache, &target);
    target.calls.set(0);
    let frame = ReadReq {
        addr: RemoteAddr(0x9000),
        len: 64,
    };
    cache.begin_with(&target, Some(frame));
    for (a, l) in [(0x1010u64, 16usize), (0x5008, 8), (0x9000, 64)] {
        assert_eq!(
            read(&cache.mem(&target), a, l).unwrap(),
            target.get(a, l).unwrap()
        );
    }
    assert_eq!(target.calls.get(), 0, "answered from the shadow");
    cache.end();
    // The probe did not run (a fault): the stop reads its plan itself.
    target.data.borrow_mut()[0x1010] ^= 0xff;
    cache.begin(&target);
    assert_eq!(target.calls.get(), 1);
    assert_eq!(
        read(&cache.mem(&target), 0x1010, 16).unwrap(),
        target.get(0x1010, 16).unwrap()
    );
}

#[test]
fn a_range_new_in_the_plan_holds_what_the_stop_read() {
    let target = mem();
    let cache = StopCache::new();
    cache.begin(&target);
    let _ = read(&cache.mem(&target), 0x1010, 16);
    cache.attach_probe(Probe::for_tests());
    cache.end();
    refresh(&cache, &target);
    // A stop that reads its plan again and a new object (a miss).
    cache.begin(&target);
    let _ = read(&cache.mem(&target), 0x1010, 16);
    let _ = read(&cache.mem(&target), 0x5010, 16);
    cache.end();
    assert!(
        cache.inner.borrow().armable,
        "every byte read is in the probe"
    );
    {
        let probe = cache.probe_mut();
        let p = probe.as_ref().unwrap();
        let (placed, stable) = p.placed();
        assert_eq!(placed.len(), 2);
        // The new range went past the kept one, filled with the target's
        // bytes before the probe ever ran for it, and counts as stable.
        let (r, at) = placed[1];
        assert_eq!(r.addr.0, 0x5000);
        assert!(at >= placed[0].1 + placed[0].0.len);
        assert_eq!(stable, [true, true]);
        assert_eq!(
            &p.shadow()[at..at + r.len],
            &target.get(r.addr.0, r.len).unwrap()[..]
        );
    }
    // Armed, with the position's word no longer watched.
    assert!(cache.arm(RemoteAddr(0x9000), [RemoteAddr(0x5018); 2], 10));
    // Not after a stop that wrote to the target, nor after one the probe
    // did not refresh (a fault), nor with no step left.
    for (refreshed, wrote) in [(true, true), (false, false)] {
        if refreshed {
            refresh(&cache, &target);
        }
        cache.begin(&target);
        let _ = read(&cache.mem(&target), 0x1010, 16);
        if wrote {
            cache.forget();
        }
        cache.end();
        assert!(!cache.arm(RemoteAddr(0x9000), [RemoteAddr(0x5018); 2], 10));
    }
    refresh(&cache, &target);
    cache.begin(&target);
    let _ = read(&cache.mem(&target), 0x1010, 16);
    cache.end();
    assert!(!cache.arm(RemoteAddr(0x9000), [RemoteAddr(0x5018); 2], 0));
    assert!(cache.arm(RemoteAddr(0x9000), [RemoteAddr(0x5018); 2], 1));
}
