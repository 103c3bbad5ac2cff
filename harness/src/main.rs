//! The `tracecheck` binary: parse arguments, run, report, exit.

use clap::Parser;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use tracecheck::cli::{Cli, Command, RunOpts};
use tracecheck::env::guest::GuestEnvironment;
use tracecheck::env::host::HostEnvironment;
use tracecheck::env::{check_spec, Choices, Environment, Event, Limits, ToolRuns};
use tracecheck::error::HarnessError;
use tracecheck::record::CheckRecord;
use tracecheck::report;
use tracecheck::spec::{self, ToolSpec};

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Workload { args } => {
            tracecheck_workloads::cli::main_with_args("tracecheck workload", args).into()
        }
        Command::Card {
            spec,
            vm,
            vm_cache,
            format,
            environment,
            scratch_device,
            stap,
        } => card(
            &spec,
            vm,
            vm_cache.as_deref(),
            format,
            environment,
            scratch_device.as_deref(),
            stap.given(),
        ),
        Command::Metrics => {
            print_metrics();
            0
        }
        Command::Workloads => {
            for p in tracecheck::select::PLANS {
                println!(
                    "{:<24} {}\n{:<24} tracecheck workload run {}",
                    p.name,
                    p.purpose,
                    "",
                    p.workload.to_args().join(" ")
                );
            }
            0
        }
        Command::Separation => {
            print!("{}", tracecheck::select::separation_markdown());
            0
        }
        Command::Schema { of } => {
            println!("{}", tracecheck::schema::json(of));
            0
        }
        Command::Validate { specs } => match load_specs(&specs) {
            Ok(s) => {
                for s in s {
                    println!("{}: ok ({} claim(s))", s.path.display(), s.claims.len());
                }
                0
            }
            Err(e) => fail(&e),
        },
        Command::Check { specs, opts } => run_specs(&specs, &opts, Show::Report),
        Command::Loss { spec, mut opts } => {
            opts.workload = tracecheck::loss::plans()
                .into_iter()
                .map(|s| s.to_string())
                .collect();
            // Each rate with a fresh tool, so that each loss notice is its own.
            opts.tool_run_per_workload = true;
            run_specs(&[spec], &opts, Show::LossCurve)
        }
        Command::Merge {
            files,
            format,
            color,
            junit,
            html,
        } => merge(&files, format, color, junit.as_deref(), html.as_deref()),
        Command::Results {
            files,
            cards,
            command,
        } => results(&files, &cards, &command),
        Command::Run { examples, opts } => match tracecheck::spec::specs_under(&examples) {
            Ok(specs) => run_specs(&specs, &opts, Show::Report),
            Err(e) => fail(&e),
        },
    };
    std::process::exit(code);
}

fn fail(e: &HarnessError) -> i32 {
    eprintln!("tracecheck: error: {e}");
    e.exit_code()
}

fn card(
    path: &Path,
    vm: Option<tracecheck_vm::KernelTarget>,
    vm_cache: Option<&Path>,
    format: report::Format,
    environment: Option<String>,
    scratch_device: Option<&str>,
    stap: Option<(PathBuf, PathBuf)>,
) -> i32 {
    let mut spec = match ToolSpec::load(&spec::resolve(path)) {
        Ok(s) => s,
        Err(e) => return fail(&e.into()),
    };
    let card = match (vm, stap) {
        (Some(target), _) => {
            let env = GuestEnvironment::prepare(target, vm_cache, 64, &Limits::default(), false);
            match env.and_then(|g| g.card(&spec)) {
                Ok(c) => c,
                Err(e) => return fail(&e),
            }
        }
        (None, stap) => {
            if let Some((root, module)) = stap {
                spec.use_stap_module(&root, &module);
            } else if spec.stap.is_some() {
                return fail(&HarnessError::Other(spec::stap_needs_a_guest(&spec)));
            }
            let interrupted = Arc::new(AtomicBool::new(false));
            for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
                let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
            }
            let here = environment.unwrap_or_else(|| {
                let k = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
                format!("host (kernel {})", k.trim())
            });
            // A tool that watches one disk watches the card's: the disk
            // its overhead loop reads from, as a check's tool watches the
            // check's scratch disk.
            let disk = if spec.names_the_device() {
                let made = match scratch_device {
                    Some(d) => tracecheck_workloads::scratch_disk::open_scratch(d),
                    None => tracecheck_workloads::scratch_disk::ScratchDisk::create(64),
                };
                match made {
                    Ok(d) => Some(d),
                    Err(e) => return fail(&HarnessError::Other(e.to_string())),
                }
            } else {
                None
            };
            if let Some(d) = &disk {
                spec = spec.on_scratch(d);
            }
            tracecheck::card::measure(&spec, here, disk.as_ref().map(|d| d.path()), &interrupted)
        }
    };
    match format {
        report::Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&card).expect("a card serialises")
        ),
        _ => print!("{}", tracecheck::card::render(&card)),
    }
    0
}

fn print_metrics() {
    println!("{:<24} MEANING", "METRIC");
    for (name, meaning) in tracecheck_model::metric::VOCABULARY {
        println!("{name:<24} {meaning}");
    }
}

fn load_specs(paths: &[PathBuf]) -> Result<Vec<ToolSpec>, HarnessError> {
    paths
        .iter()
        .map(|p| Ok(ToolSpec::load(&spec::resolve(p))?))
        .collect()
}

fn default_record_path() -> PathBuf {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    PathBuf::from("/var/tmp/tracecheck/runs").join(format!("{t}-{}.jsonl", std::process::id()))
}

/// What a run prints on stdout when it ends.
#[derive(Clone, Copy, PartialEq)]
enum Show {
    /// The verdicts (table or JSON, and JUnit if asked).
    Report,
    /// `tracecheck loss`: the loss curve of each spec.
    LossCurve,
}

fn run_specs(paths: &[PathBuf], opts: &RunOpts, show_what: Show) -> i32 {
    let mut specs = match load_specs(paths) {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    for spec in specs.iter_mut().filter(|s| s.stap.is_some()) {
        match (opts.stap.given(), opts.vm) {
            (Some((root, module)), _) => spec.use_stap_module(&root, &module),
            (None, Some(_)) => {}
            _ => return fail(&HarnessError::Other(spec::stap_needs_a_guest(spec))),
        }
    }
    let interrupted = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register(sig, Arc::clone(&interrupted));
    }
    let record_path = opts.record.clone().unwrap_or_else(default_record_path);
    let mut recorder = match Recorder::open(&record_path) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    let limits = Limits {
        settle: opts.settle_timeout,
        ..Limits::default()
    };
    let mut records: Vec<CheckRecord> = Vec::new();
    let show = !opts.quiet && opts.progress.on_here();
    let result = (|| -> Result<(), HarnessError> {
        let mine = shard_of(&specs, opts)?;
        let keep_in = |spec: &ToolSpec, workload: &str| {
            mine.as_ref().is_none_or(|m| {
                m.contains(&(spec.path.display().to_string(), workload.to_string()))
            })
        };
        let mut total = 0;
        for spec in &specs {
            total += tracecheck::env::checks_for(spec, &opts.workload)?
                .iter()
                .filter(|c| keep_in(spec, c.plan.name))
                .count();
        }
        let mut progress = tracecheck::progress::Progress::new(total, show);
        let mut on_event = |ev: Event<'_>| {
            progress.event(&ev);
            // Keep each check as it finishes, so an interrupted or failed
            // run still reports everything it measured.
            match ev {
                Event::CheckDone(r) => {
                    recorder.write(r);
                    records.push(r.clone());
                }
                // Every run of a repeated check is recorded too.
                Event::RunDone { record, .. } => recorder.write(record),
                _ => {}
            }
        };
        let env: Box<dyn Environment> = match opts.vm {
            // Every check in a fresh guest; verdicts come from the guest.
            Some(target) => Box::new(GuestEnvironment::prepare(
                target,
                opts.vm_cache.as_deref(),
                opts.scratch_size,
                &limits,
                !show,
            )?),
            None => Box::new(HostEnvironment::prepare(
                &opts.scratch_device,
                opts.scratch_size,
                limits,
                opts.environment.clone(),
                !show,
            )?),
        };
        for spec in &specs {
            let keep = |workload: &str| keep_in(spec, workload);
            let choices = Choices {
                only: &opts.workload,
                keep: &keep,
                repeat: opts.repeat as usize,
                tool_runs: if opts.tool_run_per_workload {
                    ToolRuns::PerWorkload
                } else {
                    ToolRuns::SharedWherePossible
                },
            };
            check_spec(env.as_ref(), spec, &choices, &interrupted, &mut on_event)?;
        }
        Ok(())
    })();
    let html = opts.html.as_deref().map(|p| (p, specs.as_slice()));
    if show_what == Show::LossCurve {
        if !opts.quiet || result.is_err() {
            eprintln!("tracecheck: full records in {}", record_path.display());
        }
        let code = loss_curves(&specs, &records, result);
        return match html.map(|(path, specs)| write_html(path, &records, specs)) {
            Some(Err(e)) => fail(&e),
            _ => code,
        };
    }
    if let Err(e) = print_report(
        &records,
        opts.format,
        opts.color,
        opts.junit.as_deref(),
        html,
    ) {
        return fail(&e);
    }
    if !opts.quiet || result.is_err() {
        eprintln!("tracecheck: full records in {}", record_path.display());
    }
    match result {
        Ok(()) => report::exit_code(&records),
        Err(e) => fail(&e),
    }
}

/// `tracecheck loss`: each spec's curve on stdout. Exit 0 when every rate
/// was measured, 1 when a rate has no number (the tool did not run
/// properly there), 2 when tracecheck could not run the checks.
fn loss_curves(
    specs: &[ToolSpec],
    records: &[CheckRecord],
    result: Result<(), HarnessError>,
) -> i32 {
    let mut code = 0;
    // A guest's records name the spec by its absolute path, the host's as
    // it was given: compare where they lead.
    let canonical =
        |p: &std::path::Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    for spec in specs {
        let path = canonical(&spec.path);
        let mine: Vec<CheckRecord> = records
            .iter()
            .filter(|r| canonical(&r.spec) == path)
            .cloned()
            .collect();
        let points = tracecheck::loss::points(&mine);
        let claim = spec.claims.first().map_or("", |c| c.name.as_str());
        print!("{}", tracecheck::loss::render(&spec.name, claim, &points));
        if points.len() < tracecheck::loss::plans().len()
            || points.iter().any(|p| p.printed.is_none())
        {
            code = 1;
        }
    }
    match result {
        Ok(()) => code,
        Err(e) => fail(&e),
    }
}

/// With `--shard I/N`: the (spec, workload) checks this job runs.
fn shard_of(
    specs: &[ToolSpec],
    opts: &RunOpts,
) -> Result<Option<std::collections::BTreeSet<(String, String)>>, HarnessError> {
    use tracecheck::shard::{assign, costs_from_records, Item};
    let Some(shard) = opts.shard else {
        return Ok(None);
    };
    let costs = costs_from_records(&opts.shard_costs)?;
    let mut items = Vec::new();
    for s in specs {
        for c in tracecheck::env::checks_for(s, &opts.workload)? {
            items.push(Item {
                tool: s.name.clone(),
                spec: s.path.display().to_string(),
                workload: c.plan.name.to_string(),
            });
        }
    }
    let jobs = assign(&items, &costs, shard.count);
    let mine: std::collections::BTreeSet<_> = items
        .into_iter()
        .zip(jobs)
        .filter(|(_, j)| *j + 1 == shard.index)
        .map(|(it, _)| (it.spec, it.workload))
        .collect();
    if !opts.quiet {
        eprintln!(
            "tracecheck: shard {}/{}: {} check(s) of this run",
            shard.index,
            shard.count,
            mine.len()
        );
    }
    Ok(Some(mine))
}

/// The report on stdout (table or JSON), and the JUnit file and the HTML
/// page (with the specs the records came from) if asked for. The files
/// come after stdout, so a file that cannot be written costs only itself.
fn print_report(
    records: &[CheckRecord],
    format: report::Format,
    color: report::ColorChoice,
    junit: Option<&Path>,
    html: Option<(&Path, &[ToolSpec])>,
) -> Result<(), HarnessError> {
    if !records.is_empty() {
        let out = match format {
            report::Format::Table => report::table(records, &report::Style::new(color)),
            report::Format::Json => report::json(records),
            report::Format::Matrix => tracecheck::results::Results::new(records).matrix(),
        };
        let _ = std::io::stdout().write_all(out.as_bytes());
    }
    if let Some(path) = junit {
        std::fs::write(path, tracecheck::junit::junit("tracecheck", records))
            .map_err(HarnessError::io(format!("write {}", path.display())))?;
    }
    if let Some((path, specs)) = html {
        write_html(path, records, specs)?;
    }
    Ok(())
}

/// `tracecheck merge`: the final records of several record files (each
/// repeated run's own record is skipped: its merged record follows it), as
/// one report with one exit status.
fn merge(
    files: &[PathBuf],
    format: report::Format,
    color: report::ColorChoice,
    junit: Option<&Path>,
    html: Option<&Path>,
) -> i32 {
    let mut records = Vec::new();
    for f in files {
        match tracecheck::record::read_checks(f) {
            Ok(r) => records.extend(r),
            Err(e) => return fail(&e),
        }
    }
    if records.is_empty() {
        return fail(&HarnessError::Other(
            "the record files hold no finished check".into(),
        ));
    }
    // The specs say which map holds a claim's histogram; a spec moved or
    // deleted since the run only costs its histograms.
    let mut specs: Vec<ToolSpec> = Vec::new();
    if html.is_some() {
        let mut paths: Vec<&Path> = records.iter().map(|r| r.spec.as_path()).collect();
        paths.sort();
        paths.dedup();
        specs = paths
            .into_iter()
            .filter_map(|p| ToolSpec::load(p).ok())
            .collect();
    }
    let html = html.map(|p| (p, specs.as_slice()));
    match print_report(&records, format, color, junit, html) {
        Ok(()) => report::exit_code(&records),
        Err(e) => fail(&e),
    }
}

/// `tracecheck results`: the Markdown results document on stdout.
fn results(files: &[PathBuf], cards: &[PathBuf], command: &str) -> i32 {
    let mut records = Vec::new();
    for f in files {
        match tracecheck::record::read_checks(f) {
            Ok(r) => records.extend(r),
            Err(e) => return fail(&e),
        }
    }
    let mut printed = Vec::new();
    for f in cards {
        let card = std::fs::read_to_string(f)
            .map_err(|e| format!("cannot read card {}: {e}", f.display()))
            .and_then(|t| {
                serde_json::from_str::<tracecheck::card::Card>(&t).map_err(|e| {
                    format!(
                        "{}: not a card from `tracecheck card --format json`: {e}",
                        f.display()
                    )
                })
            });
        match card {
            Ok(c) => printed.push(c),
            Err(e) => return fail(&HarnessError::Other(e)),
        }
    }
    let p = tracecheck::results::Provenance {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        command: command.to_string(),
        packages: tracecheck::results::installed_packages(),
        cards: printed,
    };
    print!("{}", tracecheck::results::markdown(&records, &p));
    0
}

/// `--html FILE`: the page, written whole.
fn write_html(
    path: &Path,
    records: &[CheckRecord],
    specs: &[ToolSpec],
) -> Result<(), HarnessError> {
    std::fs::write(path, tracecheck::html::page(records, specs)).map_err(HarnessError::io(format!(
        "write the HTML report {}",
        path.display()
    )))
}

/// Appends each finished check to a JSON-lines file at once, so an
/// interrupted or crashed run keeps everything it measured.
struct Recorder {
    file: std::fs::File,
    path: PathBuf,
}

impl Recorder {
    fn open(path: &Path) -> Result<Recorder, HarnessError> {
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d)
                .map_err(HarnessError::io(format!("create {}", d.display())))?;
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(HarnessError::io(format!(
                "open record file {}",
                path.display()
            )))?;
        Ok(Recorder {
            file,
            path: path.to_owned(),
        })
    }

    fn write(&mut self, r: &CheckRecord) {
        let line = serde_json::to_string(r).expect("record serializes");
        // Flush to stable storage per record (a regular file; /dev/null and
        // pipes cannot sync, and need not).
        let sync = |f: &std::fs::File| match f.metadata() {
            Ok(m) if m.is_file() => f.sync_data(),
            _ => Ok(()),
        };
        if let Err(e) = writeln!(self.file, "{line}").and_then(|_| sync(&self.file)) {
            eprintln!(
                "tracecheck: warning: cannot append to {}: {e}",
                self.path.display()
            );
        }
    }
}
