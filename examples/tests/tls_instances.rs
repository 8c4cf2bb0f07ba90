//! Runs the `tls-instances` example on loopback and resumes sessions across its instances
//! with `openssl s_client` (`-sess_out` on one port, `-sess_in` on another), in memory and
//! through a real `redis-server`; and the control without shared state, where the other
//! instance cannot resume (incident 4's 1/N).

#[path = "support/clients.rs"]
mod clients;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use clients::{collect, run_bounded};
use testkit::ChildGuard;

/// Every client run is bounded by this (each takes about 1 s: stdin stays open that long).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long s_client's stdin stays open, so TLS 1.3 tickets arrive before it exits.
const STDIN_OPEN: Duration = Duration::from_secs(1);
const REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

struct Server {
    child: ChildGuard,
    ports: Vec<u16>,
    /// The banner's two ready-to-paste commands.
    commands: Vec<String>,
}

/// Starts the example on `n` free ports with `args` after `--ports`.
fn start_server(n: usize, args: &[&str]) -> Server {
    let ports = vec!["0"; n].join(",");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tls-instances"));
    command
        .args(["--ports", &ports])
        .args(args)
        // tls-resume's key ring warns, on every retry, about each past epoch that a fresh
        // Redis fleet never had a key for: noise here.
        .env("RUST_LOG", "warn,tls_resume::ticketer=error");
    let mut child = ChildGuard::spawn(command).expect("start tls-instances");
    let lines = child
        .read_until(Duration::from_secs(30), |line| line.contains("-sess_in"))
        .expect("tls-instances prints its ports, then openssl commands");
    let ports: Vec<u16> = lines[0]
        .strip_prefix("tls-instances listening on https://127.0.0.1:")
        .unwrap_or_else(|| panic!("the first line says where it listens: {lines:?}"))
        .split(',')
        .map(|p| p.parse().expect("a port"))
        .collect();
    assert_eq!(ports.len(), n, "{lines:?}");
    let commands: Vec<String> = lines
        .iter()
        .filter(|l| l.contains("openssl s_client"))
        .map(|l| l.trim().to_owned())
        .collect();
    assert_eq!(commands.len(), 2, "{lines:?}");
    Server {
        child,
        ports,
        commands,
    }
}

/// A session file unique to this test.
fn session_file(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!(
        "tls-instances-test-{}-{name}.pem",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&path);
    path
}

/// `(printf 'GET / HTTP/1.0\r\n\r\n'; sleep 1) | openssl s_client -connect 127.0.0.1:PORT
/// FLAGS`: stdin stays open for a second (with `</dev/null` s_client exits before TLS 1.3
/// tickets arrive and writes no `-sess_out` file). Returns everything it printed.
fn s_client(openssl: &Path, port: u16, flags: &[&str], session: (&str, &Path)) -> String {
    let mut child = Command::new(openssl)
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(flags)
        .arg(session.0)
        .arg(session.1)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start openssl s_client");
    let mut stdin = child.stdin.take().unwrap();
    let feeder = thread::spawn(move || {
        let _ = stdin.write_all(REQUEST);
        thread::sleep(STDIN_OPEN);
        drop(stdin);
    });
    let (_, output) = collect(child, "openssl s_client", CLIENT_TIMEOUT);
    feeder.join().unwrap();
    output
}

/// The line starting with `prefix` (e.g. `Reused, TLSv1.2, Cipher is `), if any.
fn line_starting<'a>(output: &'a str, prefix: &str) -> Option<&'a str> {
    output.lines().find(|l| l.starts_with(prefix))
}

/// Asserts the handshake line (`New, TLSv1.2, Cipher is …` / `Reused, …`) and the body.
fn assert_handshake(output: &str, kind: &str, version: &str, instance: usize, port: u16) {
    let handshake = format!("{kind}, {version}, Cipher is ");
    assert!(
        line_starting(output, &handshake).is_some(),
        "expected `{handshake}…`:\n{output}"
    );
    let resumed = kind == "Reused";
    let body = format!("instance={instance} port={port} resumed={resumed} protocol={version}");
    assert!(
        output.lines().any(|l| l == body),
        "expected the body `{body}`:\n{output}"
    );
}

/// Resumes a session made on instance 1 on instance 2 with `flags`.
fn resume_across(openssl: &Path, server: &Server, flags: &[&str], version: &str, name: &str) {
    let file = session_file(name);
    let (p1, p2) = (server.ports[0], server.ports[1]);
    let first = s_client(openssl, p1, flags, ("-sess_out", &file));
    assert_handshake(&first, "New", version, 1, p1);
    assert!(file.exists(), "no -sess_out file written:\n{first}");
    let second = s_client(openssl, p2, flags, ("-sess_in", &file));
    assert_handshake(&second, "Reused", version, 2, p2);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn banner_commands_resume_a_tls12_session_id_on_another_instance() {
    let Some(_) = testkit::require_program("openssl") else {
        return;
    };
    let Some(sh) = testkit::require_program("sh") else {
        return;
    };
    let server = start_server(2, &[]);
    let mut outputs = Vec::new();
    for command in &server.commands {
        outputs.push(run_bounded(&sh, &["-c", command], CLIENT_TIMEOUT).1);
    }
    assert_handshake(&outputs[0], "New", "TLSv1.2", 1, server.ports[0]);
    assert_handshake(&outputs[1], "Reused", "TLSv1.2", 2, server.ports[1]);
}

#[test]
fn cache_mode_resumes_tls12_session_ids_and_tls13_stateful_tickets_once() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let server = start_server(3, &["--mode", "cache"]);
    resume_across(
        &openssl,
        &server,
        &["-tls1_2", "-no_ticket"],
        "TLSv1.2",
        "cache-12",
    );

    // TLS 1.3 stateful tickets are single-use fleet-wide: the ticket resumes on instance
    // 2, and the same ticket offered again on instance 3 gets a full handshake.
    let file = session_file("cache-13");
    let [p1, p2, p3] = server.ports[..] else {
        unreachable!()
    };
    let first = s_client(&openssl, p1, &["-tls1_3"], ("-sess_out", &file));
    assert_handshake(&first, "New", "TLSv1.3", 1, p1);
    let second = s_client(&openssl, p2, &["-tls1_3"], ("-sess_in", &file));
    assert_handshake(&second, "Reused", "TLSv1.3", 2, p2);
    let third = s_client(&openssl, p3, &["-tls1_3"], ("-sess_in", &file));
    assert_handshake(&third, "New", "TLSv1.3", 3, p3);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn tickets_mode_resumes_tls13_tickets_on_another_instance() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let server = start_server(2, &["--mode", "tickets"]);
    assert!(
        server.commands[0].contains("-tls1_3"),
        "{:?}",
        server.commands
    );
    resume_across(&openssl, &server, &["-tls1_3"], "TLSv1.3", "tickets-13");
    // TLS 1.2 tickets too (the cache is off in this mode, so only a ticket can resume).
    resume_across(&openssl, &server, &["-tls1_2"], "TLSv1.2", "tickets-12");
}

#[test]
fn both_mode_resumes_session_ids_and_tickets() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let server = start_server(2, &["--mode", "both"]);
    resume_across(
        &openssl,
        &server,
        &["-tls1_2", "-no_ticket"],
        "TLSv1.2",
        "both-12",
    );
    resume_across(&openssl, &server, &["-tls1_3"], "TLSv1.3", "both-13");
}

#[test]
fn ctrl_c_stops_it() {
    let mut server = start_server(1, &[]);
    let status = Command::new("kill")
        .args(["-INT", &server.child.id().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.child.is_running() {
        assert!(Instant::now() < deadline, "still running 10 s after SIGINT");
        thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_shared_state_only_the_same_instance_resumes() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let server = start_server(2, &["--mode", "none"]);
    let file = session_file("none");
    let (p1, p2) = (server.ports[0], server.ports[1]);
    let flags = ["-tls1_2", "-no_ticket"];
    let first = s_client(&openssl, p1, &flags, ("-sess_out", &file));
    assert_handshake(&first, "New", "TLSv1.2", 1, p1);
    let other = s_client(&openssl, p2, &flags, ("-sess_in", &file));
    assert_handshake(&other, "New", "TLSv1.2", 2, p2);
    // The control is sound: the instance that made the session resumes it.
    let same = s_client(&openssl, p1, &flags, ("-sess_in", &file));
    assert_handshake(&same, "Reused", "TLSv1.2", 1, p1);
    let _ = std::fs::remove_file(&file);
}

#[test]
fn through_redis_cache_mode_resumes_tls12_session_ids_and_tls13_stateful_tickets() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let Some(redis) = testkit::require_program("redis-server") else {
        return;
    };
    let (port, _redis) = testkit::start_redis(&redis);
    let url = format!("redis://127.0.0.1:{port}/");
    let server = start_server(2, &["--redis", &url, "--mode", "cache"]);
    resume_across(
        &openssl,
        &server,
        &["-tls1_2", "-no_ticket"],
        "TLSv1.2",
        "redis-12",
    );
    resume_across(&openssl, &server, &["-tls1_3"], "TLSv1.3", "redis-13");
}

#[test]
fn through_redis_tickets_mode_resumes_tls13_tickets() {
    let Some(openssl) = testkit::require_program("openssl") else {
        return;
    };
    let Some(redis) = testkit::require_program("redis-server") else {
        return;
    };
    let (port, _redis) = testkit::start_redis(&redis);
    let url = format!("redis://127.0.0.1:{port}/");
    let server = start_server(2, &["--redis", &url, "--mode", "tickets"]);
    resume_across(&openssl, &server, &["-tls1_3"], "TLSv1.3", "redis-tickets");
}

#[test]
fn unreachable_redis_exits_1() {
    // Nothing listens on a port just released.
    let port = testkit::free_tcp_port();
    let output = Command::new(env!("CARGO_BIN_EXE_tls-instances"))
        .args([
            "--ports",
            "0",
            "--redis",
            &format!("redis://127.0.0.1:{port}/"),
        ])
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.starts_with("tls-instances: cannot reach Redis"),
        "{stderr}"
    );
}

#[test]
fn invalid_arguments_exit_2_naming_the_flag() {
    let cases: &[(&[&str], &str)] = &[
        (&[], "--ports"),
        (&["--ports"], "--ports"),
        (&["--ports", "9443,https"], "--ports"),
        (&["--ports", "9443,9443"], "--ports"),
        (&["--ports", "0", "--mode", "lax"], "--mode"),
        (&["--ports", "0", "--redis", "http://127.0.0.1/"], "--redis"),
        (&["--ports", "0", "--verbose"], "--verbose"),
    ];
    for (args, flag) in cases {
        let output = Command::new(env!("CARGO_BIN_EXE_tls-instances"))
            .args(*args)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            stderr.starts_with(&format!("tls-instances: {flag}: ")),
            "{args:?}: {stderr}"
        );
        assert!(output.stdout.is_empty());
    }
}
