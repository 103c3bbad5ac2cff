//! Loading, attaching and reading the witness. The skeleton is opened and
//! loaded, every program attached, and the skeleton then dropped: the
//! links keep the programs and the programs keep their maps, and the
//! witness reads the maps through its own file descriptors. So a running
//! witness owns no borrowed state and detaches when dropped.

use crate::bpf::{WitnessSkel, WitnessSkelBuilder};
use crate::config::WitnessConfig;
use crate::error::WitnessError;
use crate::layout;
use crate::report::{
    CpuSampleRow, CpuSamples, DeviceReport, Flow, FlushCounts, InFlight, IoGroup, MergeCounts,
    PagecacheAdds, Stage, Submitter, SyscallCounts, WitnessReport,
};
use crate::request_flags::RequestFlags;
use libbpf_rs::skel::{OpenSkel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, MapHandle};
use std::collections::BTreeMap;
use std::mem::MaybeUninit;

/// A raw map entry: key bytes, value bytes.
type KeyValue = (Vec<u8>, Vec<u8>);

/// A sample array's decoder (layout.rs), from one value's bytes.
type Decode<T> = fn(&[u8]) -> Option<T>;

/// A running witness for one device. Dropping it detaches every program.
pub struct Witness {
    config: WitnessConfig,
    counters: MapHandle,
    submitters: MapHandle,
    pagecache: MapHandle,
    syscalls: MapHandle,
    pids: MapHandle,
    latencies: MapHandle,
    latency_state: MapHandle,
    calls: MapHandle,
    call_state: MapHandle,
    samples: MapHandle,
    samples_lost: MapHandle,
    issued: MapHandle,
    /// The sampler's links, one per CPU it samples, when it runs.
    sampler: Vec<(u32, Link)>,
    /// Each attached program: its tracepoint, kernel program id, link.
    links: Vec<(&'static str, u32, Link)>,
    /// The RQF_* bits the programs were loaded with.
    request_flags: RequestFlags,
}

impl std::fmt::Debug for Witness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Witness")
            .field("config", &self.config)
            .field("programs", &self.links.len())
            .finish()
    }
}

impl Witness {
    /// Load and attach the witness for `config`'s device. Counting starts
    /// when this returns.
    pub fn start(config: WitnessConfig) -> Result<Witness, WitnessError> {
        let dev = format!("{}:{}", config.dev_major, config.dev_minor);
        let kdev = config.kernel_dev()?;
        let (prefix, prefix_len) = config.comm_prefix_bytes()?;
        let request_flags = RequestFlags::of_running_kernel();

        let mut storage = MaybeUninit::uninit();
        let open = WitnessSkelBuilder::default()
            .open(&mut storage)
            .map_err(|source| WitnessError::Open {
                dev: dev.clone(),
                source,
            })?;
        let mut open = open;
        if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
            ro.target_dev = kdev;
            ro.rqf_io_stat_mask = request_flags.io_stat_mask();
            ro.rqf_flush_seq_mask = request_flags.flush_seq_mask();
            ro.filter_tasks = config.filters_tasks();
            ro.comm_prefix_len = prefix_len;
            for (d, s) in ro.comm_prefix.iter_mut().zip(prefix) {
                *d = s as i8;
            }
        }
        // Keep libbpf's warnings: a verifier or CO-RE failure is only
        // explained there, and EINVAL alone names nothing.
        LIBBPF_LOG.lock().unwrap_or_else(|e| e.into_inner()).clear();
        libbpf_rs::set_print(Some((libbpf_rs::PrintLevel::Warn, keep_libbpf_log)));
        let skel = open.load().map_err(|source| WitnessError::Load {
            dev: dev.clone(),
            source,
            log: libbpf_log_tail(),
        })?;

        let handle = |m: &libbpf_rs::MapMut<'_>, map: &'static str| {
            MapHandle::try_from(m).map_err(|source| WitnessError::Map {
                dev: dev.clone(),
                map,
                source,
            })
        };
        let w = Witness {
            counters: handle(&skel.maps.counters, "counters")?,
            submitters: handle(&skel.maps.submitters, "submitters")?,
            pagecache: handle(&skel.maps.pagecache, "pagecache")?,
            syscalls: handle(&skel.maps.syscalls, "syscalls")?,
            pids: handle(&skel.maps.pids, "pids")?,
            latencies: handle(&skel.maps.latencies, "latencies")?,
            latency_state: handle(&skel.maps.latency_state, "latency_state")?,
            calls: handle(&skel.maps.calls, "calls")?,
            call_state: handle(&skel.maps.call_state, "call_state")?,
            samples: handle(&skel.maps.samples, "samples")?,
            samples_lost: handle(&skel.maps.samples_lost, "samples_lost")?,
            issued: handle(&skel.maps.issued, "issued")?,
            sampler: Vec::new(),
            links: Vec::new(),
            request_flags,
            config,
        };
        if w.counters.value_size() as usize != layout::COUNTERS_SIZE {
            return Err(WitnessError::Layout {
                dev,
                map: "counters",
                got: w.counters.value_size() as usize,
                want: layout::COUNTERS_SIZE,
            });
        }
        for pid in &w.config.pids {
            w.watch_pid(*pid)?;
        }
        // Programs are attached only after the pid filter is filled, so
        // the first events already see it.
        let w = w.attach_all(&skel, &dev)?;
        match w.config.sample_hz {
            Some(hz) => w.attach_sampler(&skel, &dev, hz),
            None => Ok(w),
        }
    }

    /// The sampler on every CPU: a cpu-clock event asking for `hz` samples
    /// a second (frequency mode, as bpftrace's profile:hz, bcc's profile
    /// -F and perf record -F open theirs), the perf_event program attached
    /// to it. The link owns the event: dropping it disables and closes it.
    fn attach_sampler(
        mut self,
        skel: &WitnessSkel<'_>,
        dev: &str,
        hz: u32,
    ) -> Result<Witness, WitnessError> {
        use perf_event_open_sys as perf;
        let program = skel.progs.cpu_sample.name().to_string_lossy().into_owned();
        let cpus = libbpf_rs::num_possible_cpus().map_err(|source| WitnessError::Attach {
            dev: dev.to_string(),
            program: program.clone(),
            source,
        })?;
        for cpu in 0..cpus as u32 {
            let mut attr = perf::bindings::perf_event_attr {
                type_: perf::bindings::PERF_TYPE_SOFTWARE,
                size: std::mem::size_of::<perf::bindings::perf_event_attr>() as u32,
                config: perf::bindings::PERF_COUNT_SW_CPU_CLOCK as u64,
                ..Default::default()
            };
            attr.__bindgen_anon_1.sample_freq = hz as u64;
            attr.set_freq(1);
            // SAFETY: attr is a whole, zero-padded perf_event_attr whose
            // size field says so; the call reads it and returns an fd or -1.
            let fd = unsafe {
                perf::perf_event_open(
                    &mut attr,
                    -1,
                    cpu as i32,
                    -1,
                    perf::bindings::PERF_FLAG_FD_CLOEXEC as _,
                )
            };
            if fd < 0 {
                let e = std::io::Error::last_os_error();
                // A possible CPU that is not online has nothing to sample.
                if e.raw_os_error() == Some(rustix::io::Errno::NODEV.raw_os_error()) {
                    continue;
                }
                return Err(WitnessError::Sampler {
                    dev: dev.to_string(),
                    cpu,
                    hz,
                    source: e,
                });
            }
            let link = skel
                .progs
                .cpu_sample
                .attach_perf_event(fd)
                .map_err(|source| {
                    // SAFETY: fd is ours, just opened, and not attached.
                    drop(unsafe {
                        <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
                    });
                    WitnessError::Attach {
                        dev: dev.to_string(),
                        program: program.clone(),
                        source,
                    }
                })?;
            self.sampler.push((cpu, link));
        }
        Ok(self)
    }

    fn attach_all(mut self, skel: &WitnessSkel<'_>, dev: &str) -> Result<Witness, WitnessError> {
        let p = &skel.progs;
        // Same order as layout::PROGRAMS.
        let progs: [&libbpf_rs::ProgramMut<'_>; layout::PROGRAMS.len()] = [
            &p.bio_queue,
            &p.rq_issue,
            &p.rq_requeue,
            &p.rq_complete,
            &p.bio_backmerge,
            &p.bio_frontmerge,
            &p.rq_merge,
            &p.split,
            &p.pagecache_add,
            &p.sys_exit,
            &p.process_fork,
            &p.sys_enter,
        ];
        for (tracepoint, prog) in layout::PROGRAMS.iter().zip(progs) {
            let err = |source| WitnessError::Attach {
                dev: dev.to_string(),
                program: prog.name().to_string_lossy().into_owned(),
                source,
            };
            let link = prog.attach().map_err(err)?;
            let id = link.info().map_err(err)?.prog_id;
            self.links.push((tracepoint, id, link));
        }
        Ok(self)
    }

    /// The configuration this witness was started with.
    pub fn config(&self) -> &WitnessConfig {
        &self.config
    }

    /// Count the system calls of process `tgid` (and of children it forks
    /// from now on) too. Only meaningful when the config filters tasks.
    pub fn watch_pid(&self, tgid: u32) -> Result<(), WitnessError> {
        self.pids
            .update(&tgid.to_ne_bytes(), &[1u8], MapFlags::ANY)
            .map_err(|source| WitnessError::Map {
                dev: self.dev(),
                map: "pids",
                source,
            })
    }

    fn dev(&self) -> String {
        format!("{}:{}", self.config.dev_major, self.config.dev_minor)
    }

    fn map_err(&self, map: &'static str) -> impl Fn(libbpf_rs::Error) -> WitnessError + '_ {
        move |source| WitnessError::Map {
            dev: self.dev(),
            map,
            source,
        }
    }

    fn layout_err(&self, map: &'static str, got: usize, want: usize) -> WitnessError {
        WitnessError::Layout {
            dev: self.dev(),
            map,
            got,
            want,
        }
    }

    /// Everything counted since start. Programs keep running.
    pub fn snapshot(&self) -> Result<WitnessReport, WitnessError> {
        let per_cpu = self
            .counters
            .lookup_percpu(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(self.map_err("counters"))?
            .unwrap_or_default();
        if let Some(v) = per_cpu.iter().find(|v| v.len() != layout::COUNTERS_SIZE) {
            return Err(self.layout_err("counters", v.len(), layout::COUNTERS_SIZE));
        }
        let c = layout::sum_percpu(&per_cpu);
        let at = |slot: u32| c.get(slot as usize).copied().unwrap_or(0);
        let stage = |bytes: u32, count: u32| {
            let mut s = Stage::default();
            for g in [IoGroup::Read, IoGroup::Write, IoGroup::Discard] {
                *s.get_mut(g) = Flow {
                    bytes: at(bytes + g.index()),
                    count: at(count + g.index()),
                };
            }
            s
        };
        let issued = stage(layout::C_ISSUE_BYTES, layout::C_ISSUE_RQS);
        let requeue = stage(layout::C_REQUEUE_BYTES, layout::C_REQUEUE_RQS);
        let mut issue = Stage::default();
        for g in [IoGroup::Read, IoGroup::Write, IoGroup::Discard] {
            let (i, r) = (issued.get(g), requeue.get(g));
            *issue.get_mut(g) = Flow {
                bytes: i.bytes.saturating_sub(r.bytes),
                count: i.count.saturating_sub(r.count),
            };
        }
        let mut without_data = Stage::default();
        for g in [IoGroup::Read, IoGroup::Write, IoGroup::Discard] {
            without_data.get_mut(g).count = at(layout::C_COMPLETE_EMPTY + g.index());
        }
        let device = DeviceReport {
            major: self.config.dev_major,
            minor: self.config.dev_minor,
            submit: stage(layout::C_SUBMIT_BYTES, layout::C_SUBMIT_BIOS),
            issue,
            requeue,
            complete: stage(layout::C_COMPLETE_BYTES, layout::C_COMPLETE_RQS),
            complete_without_data: without_data,
            flush: FlushCounts {
                bios: at(layout::C_FLUSH_SUBMIT),
                issued: at(layout::C_FLUSH_ISSUE),
                completed: at(layout::C_FLUSH_COMPLETE),
                empty_completions: at(layout::C_COMPLETE_EVENTS_EMPTY),
            },
            merges: MergeCounts {
                back: at(layout::C_BACKMERGE),
                front: at(layout::C_FRONTMERGE),
                requests: at(layout::C_RQ_MERGE),
                splits: at(layout::C_SPLIT),
            },
        };
        let events: BTreeMap<String, u64> = layout::PROGRAMS
            .iter()
            .enumerate()
            .map(|(i, name)| (name.to_string(), at(layout::C_EV_FIRST + i as u32)))
            .collect();
        let lost_by_map: BTreeMap<String, u64> = layout::LOST
            .iter()
            .map(|(slot, map)| (map.to_string(), at(*slot)))
            .collect();
        let missed_by_program = self.recursion_misses();
        let lost = lost_by_map.values().sum::<u64>() + missed_by_program.values().sum::<u64>();

        Ok(WitnessReport {
            device,
            submitters: self.read_submitters()?,
            pagecache_adds: self.read_pagecache()?,
            syscalls: self.read_syscalls()?,
            events,
            lost,
            lost_by_map,
            missed_by_program,
            request_flags: Some(self.request_flags),
            requests: self.read_latencies()?,
            cpu_samples: self.read_samples()?,
        })
    }

    /// Data requests seen issued and not yet seen complete, oldest issue
    /// first. Stamps are removed when a request's whole completion is
    /// seen; one left at a quiet point is a completion the witness missed.
    pub fn in_flight(&self) -> Result<Vec<InFlight>, WitnessError> {
        let mut out = Vec::new();
        for (k, v) in self.entries(&self.issued, "issued", layout::ISSUE_STAMP_SIZE)? {
            let request =
                layout::one_u64(&k).ok_or_else(|| self.layout_err("issued", k.len(), 8))?;
            let stamp = layout::issue_stamp(&v)
                .ok_or_else(|| self.layout_err("issued", v.len(), layout::ISSUE_STAMP_SIZE))?;
            out.push(InFlight {
                request,
                issued_ns: stamp.ns,
                bytes: stamp.bytes,
                write: stamp.group == layout::G_WRITE,
                comm: stamp.comm,
            });
        }
        out.sort_by_key(|r| r.issued_ns);
        Ok(out)
    }

    /// The sampler's counts, if it runs.
    fn read_samples(&self) -> Result<Option<CpuSamples>, WitnessError> {
        let Some(hz) = self.config.sample_hz else {
            return Ok(None);
        };
        let mut rows = Vec::new();
        for (k, v) in self.entries(&self.samples, "samples", 8)? {
            let (tgid, cpu, comm) = layout::sample_key(&k)
                .ok_or_else(|| self.layout_err("samples", k.len(), layout::SAMPLE_KEY_SIZE))?;
            let samples =
                layout::one_u64(&v).ok_or_else(|| self.layout_err("samples", v.len(), 8))?;
            rows.push(CpuSampleRow {
                tgid,
                comm,
                cpu,
                samples,
            });
        }
        rows.sort();
        let lost = self
            .samples_lost
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(self.map_err("samples_lost"))?
            .and_then(|v| layout::one_u64(&v))
            .unwrap_or(0);
        Ok(Some(CpuSamples {
            hz,
            cpus: self.sampler.iter().map(|(cpu, _)| *cpu).collect(),
            rows,
            lost,
        }))
    }

    /// Events each program did not run for: the kernel skips a BTF
    /// tracepoint program when the same program is already running on that
    /// CPU (bpf_trace_run's recursion check), e.g. a block_rq_complete in
    /// an interrupt arriving while the program handles one in a kworker.
    /// The kernel counts those skips in `recursion_misses`. A program
    /// whose info cannot be read counts 0 (it cannot be gone: our links hold it).
    fn recursion_misses(&self) -> BTreeMap<String, u64> {
        self.links
            .iter()
            .map(|(tp, id, _)| {
                let misses = crate::programs::prog_info(*id).map_or(0, |i| i.recursion_misses);
                (tp.to_string(), misses)
            })
            .collect()
    }

    /// Take a last snapshot and detach every program.
    pub fn stop(self) -> Result<WitnessReport, WitnessError> {
        let report = self.snapshot();
        drop(self);
        report
    }

    /// Every (key, value) of a hash map, checking the value size.
    fn entries(
        &self,
        map: &MapHandle,
        name: &'static str,
        want: usize,
    ) -> Result<Vec<KeyValue>, WitnessError> {
        let mut out = Vec::new();
        for key in map.keys() {
            // A key deleted between keys() and lookup() is simply gone.
            if let Some(v) = map
                .lookup(&key, MapFlags::ANY)
                .map_err(self.map_err(name))?
            {
                if v.len() != want {
                    return Err(self.layout_err(name, v.len(), want));
                }
                out.push((key, v));
            }
        }
        Ok(out)
    }

    fn read_submitters(&self) -> Result<Vec<Submitter>, WitnessError> {
        let mut rows = Vec::new();
        for (k, v) in self.entries(&self.submitters, "submitters", layout::BYTES_COUNT_SIZE)? {
            let ((task, g), (bytes, bios)) = match (layout::submit_key(&k), layout::two_u64(&v)) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(self.layout_err("submitters", k.len(), layout::SUBMIT_KEY_SIZE)),
            };
            let direction = IoGroup::from_index(g)
                .ok_or_else(|| self.layout_err("submitters", g as usize, 2))?;
            rows.push(Submitter {
                tgid: task.tgid,
                pid: task.pid,
                comm: task.comm,
                direction,
                bytes,
                bios,
            });
        }
        rows.sort();
        Ok(rows)
    }

    fn read_pagecache(&self) -> Result<Vec<PagecacheAdds>, WitnessError> {
        let mut rows = Vec::new();
        for (k, v) in self.entries(&self.pagecache, "pagecache", layout::PAGECACHE_VAL_SIZE)? {
            let (task, [pages, folios, meta_pages, meta_folios]) =
                match (layout::task_key(&k), layout::four_u64(&v)) {
                    (Some(k), Some(v)) => (k, v),
                    _ => return Err(self.layout_err("pagecache", k.len(), layout::TASK_KEY_SIZE)),
                };
            rows.push(PagecacheAdds {
                tgid: task.tgid,
                pid: task.pid,
                comm: task.comm,
                pages,
                folios,
                meta_pages,
                meta_folios,
            });
        }
        rows.sort();
        Ok(rows)
    }

    /// The samples taken so far, in the order requests and calls ended.
    fn read_latencies(&self) -> Result<tracecheck_model::RequestSamples, WitnessError> {
        let (samples, lost, unissued) = self.read_ring(
            (&self.latency_state, "latency_state"),
            (&self.latencies, "latencies"),
            layout::LATENCY_MAX,
            (layout::LATENCY_SAMPLE_SIZE, layout::latency_sample),
        )?;
        let (calls, calls_lost, unentered) = self.read_ring(
            (&self.call_state, "call_state"),
            (&self.calls, "calls"),
            layout::CALL_MAX,
            (layout::CALL_SAMPLE_SIZE, layout::call_sample),
        )?;
        Ok(tracecheck_model::RequestSamples {
            samples,
            lost,
            unissued,
            calls,
            calls_untimed: calls_lost + unentered,
        })
    }

    /// One array of samples and its `struct latency_state`: the samples
    /// taken, those beyond its room, and the ends whose start was unseen.
    fn read_ring<T>(
        &self,
        (state_map, state_name): (&MapHandle, &'static str),
        (ring, name): (&MapHandle, &'static str),
        max: u32,
        (size, decode): (usize, Decode<T>),
    ) -> Result<(Vec<T>, u64, u64), WitnessError> {
        let state = state_map
            .lookup(&0u32.to_ne_bytes(), MapFlags::ANY)
            .map_err(self.map_err(state_name))?
            .unwrap_or_default();
        let (next, unseen) = layout::two_u64(&state)
            .ok_or_else(|| self.layout_err(state_name, state.len(), layout::LATENCY_STATE_SIZE))?;
        let taken = next.min(max as u64) as u32;
        let mut samples = Vec::with_capacity(taken as usize);
        for i in 0..taken {
            let v = ring
                .lookup(&i.to_ne_bytes(), MapFlags::ANY)
                .map_err(self.map_err(name))?
                .unwrap_or_default();
            samples.push(decode(&v).ok_or_else(|| self.layout_err(name, v.len(), size))?);
        }
        Ok((samples, next.saturating_sub(max as u64), unseen))
    }

    fn read_syscalls(&self) -> Result<Vec<SyscallCounts>, WitnessError> {
        let mut rows = Vec::new();
        for (k, v) in self.entries(&self.syscalls, "syscalls", layout::SYSCALL_VAL_SIZE)? {
            let (task, [rb, wb, rc, wc]) = match (layout::task_key(&k), layout::four_u64(&v)) {
                (Some(k), Some(v)) => (k, v),
                _ => return Err(self.layout_err("syscalls", k.len(), layout::TASK_KEY_SIZE)),
            };
            rows.push(SyscallCounts {
                tgid: task.tgid,
                pid: task.pid,
                comm: task.comm,
                read_bytes: rb,
                write_bytes: wb,
                read_calls: rc,
                write_calls: wc,
            });
        }
        rows.sort();
        Ok(rows)
    }
}

static LIBBPF_LOG: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

fn keep_libbpf_log(_level: libbpf_rs::PrintLevel, msg: String) {
    let mut log = LIBBPF_LOG.lock().unwrap_or_else(|e| e.into_inner());
    log.push(msg.trim_end().to_string());
    // Bounded: only the last lines explain a failure.
    if log.len() > 200 {
        log.drain(..100);
    }
}

/// The last libbpf lines, indented, for an error message.
fn libbpf_log_tail() -> String {
    let log = LIBBPF_LOG.lock().unwrap_or_else(|e| e.into_inner());
    let tail: Vec<&String> = log.iter().rev().take(12).collect();
    if tail.is_empty() {
        return String::new();
    }
    let mut s = String::from("\n  libbpf said:");
    for l in tail.into_iter().rev() {
        s.push_str("\n    ");
        s.push_str(l);
    }
    s
}
