//! The HTML report in a real browser: `tracecheck check --html` on two real
//! checks (bpftrace on this machine, root, as in check.rs), the page opened
//! in headless Chromium, which must log no console message, hold the
//! charts in its DOM, and paint them: the screenshot is decoded and the
//! charts' bar colours looked for.
//!
//! Needs Chromium (`apt-get install chromium`; ci/install-deps.sh installs
//! it). It fails without it rather than skipping: a skipped test would
//! pass CI with no page ever rendered.
//!
//! `TRACECHECK_UPDATE_SCREENSHOT=1` also copies the screenshot to
//! docs/report-screenshot.png (the README shows it); otherwise it stays in
//! a temporary directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use tracecheck::html::{TOOL_COLOR, TRUTH_COLOR};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Chromium's binary: $CHROMIUM, or `chromium` / `chromium-browser` on PATH.
fn chromium() -> PathBuf {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return p.into();
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        for name in ["chromium", "chromium-browser"] {
            let p = dir.join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "this test opens the HTML report in headless Chromium, and there is none on PATH \
         (nor $CHROMIUM): apt-get install chromium (ci/install-deps.sh installs it)"
    );
}

/// Run headless Chromium on `page` with `args`; a browser that hangs is
/// killed after a minute, failing the test instead of stalling it.
fn browse(page: &Path, profile: &Path, args: &[&str]) -> Output {
    let child = Command::new(chromium())
        .args(["--headless=new", "--no-sandbox", "--disable-gpu"])
        // A profile of its own: nothing read from or left in $HOME.
        .arg(format!("--user-data-dir={}", profile.display()))
        // Console messages and uncaught errors to stderr, to be read.
        .args(["--enable-logging=stderr", "--v=0"])
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let pid = child.id();
    let started = Instant::now();
    let waiter = std::thread::spawn(move || child.wait_with_output());
    while !waiter.is_finished() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            panic!("chromium did not finish within 60 s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    waiter.join().unwrap().expect("chromium ran")
}

/// Fails on any line of Chromium's log that is the page's console or an
/// uncaught error.
fn assert_no_console_messages(what: &str, out: &Output) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let bad: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(":CONSOLE") || l.contains("Uncaught"))
        .collect();
    assert!(
        bad.is_empty(),
        "{what}: the page logged to the console:\n{}",
        bad.join("\n")
    );
}

#[test]
fn the_html_report_renders_in_chromium_with_its_charts() {
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("report.html");
    // disktop's port fails on cached-reread (page-cache hits as disk
    // reads); bitesize.bt's claim holds there and its value is a histogram:
    // a FAIL with a diagnosis, and both kinds of chart.
    let out = Command::new(env!("CARGO_BIN_EXE_tracecheck"))
        .current_dir(root())
        .args([
            "check",
            "expectations/examples/disktop",
            "expectations/catalog/bpftrace/bitesize",
            "--workload",
            "cached-reread",
            "--record",
            "/dev/null",
            "--progress",
            "never",
            "--html",
        ])
        .arg(&page)
        .output()
        .expect("run tracecheck");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "disktop's claim fails; stdout:\n{}\nstderr:\n{stderr}",
        String::from_utf8_lossy(&out.stdout)
    );
    let html = std::fs::read_to_string(&page).expect("the page was written");
    assert!(
        html.contains("the script counts page-cache hits as disk I/O"),
        "the diagnosis in the table's words"
    );
    assert!(
        html.contains("histogram @ for tcw-"),
        "bitesize's histogram"
    );

    // The DOM as Chromium built it: a totals chart for each of the three
    // verdicts, bitesize's histogram of counts, and its histogram of sizes
    // beside the witness's.
    let profile = dir.path().join("profile");
    let dom = browse(&page, &profile, &["--dump-dom"]);
    assert_no_console_messages("--dump-dom", &dom);
    let dom = String::from_utf8_lossy(&dom.stdout);
    assert_eq!(dom.matches("<svg").count(), 5, "{dom}");
    assert!(dom.matches("<rect").count() >= 10, "{dom}");

    let shot = dir.path().join("report.png");
    let out = browse(
        &page,
        &profile,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=1200,1600",
        ],
    );
    assert_no_console_messages("--screenshot", &out);
    let file = std::fs::File::open(&shot).unwrap_or_else(|e| {
        panic!(
            "no screenshot at {}: {e}; chromium said:\n{}",
            shot.display(),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    decoder.set_transformations(png::Transformations::normalize_to_color8());
    let mut reader = decoder.read_info().expect("a PNG");
    let mut pixels = vec![0; reader.output_buffer_size().expect("a size")];
    let info = reader.next_frame(&mut pixels).expect("a frame");
    assert_eq!((info.width, info.height), (1200, 1600));
    let channels = info.color_type.samples();
    assert!(channels >= 3, "{:?}", info.color_type);
    let rgb: Vec<[u8; 3]> = pixels[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    // Painted bars, not a blank or an error page: each colour over at least
    // a bar's worth of pixels (anti-aliasing aside, hence the slack).
    let near = |c: plotters::style::RGBColor| {
        rgb.iter()
            .filter(|p| {
                p[0].abs_diff(c.0) <= 6 && p[1].abs_diff(c.1) <= 6 && p[2].abs_diff(c.2) <= 6
            })
            .count()
    };
    let (tool, truth) = (near(TOOL_COLOR), near(TRUTH_COLOR));
    eprintln!("screenshot: {tool} pixels of the tool's colour, {truth} of the truth's");
    assert!(tool > 5_000, "{tool} pixels of the tool's colour");
    assert!(truth > 500, "{truth} pixels of the truth's colour");
    let mut colours = rgb.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 100, "{} colours in all", colours.len());

    if std::env::var_os("TRACECHECK_UPDATE_SCREENSHOT").is_some_and(|v| v == "1") {
        let docs = root().join("docs/report-screenshot.png");
        std::fs::copy(&shot, &docs).expect("copy the screenshot to docs/");
        eprintln!("wrote {}", docs.display());
    }
}
