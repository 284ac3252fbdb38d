//! apply on a terminal, through `script(1)` so stdin is a real terminal: Ctrl-C at the
//! confirmation question ends with 130, nothing done, and the journal lock released. Skipped
//! where `script` is not installed.

use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::apply_support::*;
use crate::support::*;

fn script_available() -> bool {
    Command::new("script").arg("--version").output().is_ok_and(|o| o.status.success())
}

#[test]
fn ctrl_c_at_the_confirmation_cancels_and_releases_the_lock() {
    if !script_available() {
        eprintln!("skipped: script(1) is not installed");
        return;
    }
    let rig = Rig::new(&manifest(&[ORDERS]));
    let wamig = rig.wamig();
    let mut command = Command::new("script");
    command
        .args(["-qec", &format!("{} apply", env!("CARGO_BIN_EXE_wamig")), "/dev/null"])
        .current_dir(rig.path())
        .envs(wamig.get_envs().filter_map(|(k, v)| v.map(|v| (k.to_owned(), v.to_owned()))))
        // The test holds stdin open, as a person at the keyboard would.
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    for (key, value) in wamig.get_envs() {
        if value.is_none() {
            command.env_remove(key);
        }
    }
    let mut child = command.spawn().unwrap();
    // Everything the terminal shows, as it comes.
    let screen = Arc::new(Mutex::new(String::new()));
    let reader = {
        let (screen, mut stdout) = (screen.clone(), child.stdout.take().unwrap());
        std::thread::spawn(move || {
            let mut buffer = [0u8; 4096];
            while let Ok(n @ 1..) = stdout.read(&mut buffer) {
                screen.lock().unwrap().push_str(&String::from_utf8_lossy(&buffer[..n]));
            }
        })
    };

    let start = Instant::now();
    while !screen.lock().unwrap().contains("Only 'yes' will be accepted") {
        assert!(start.elapsed() < Duration::from_secs(20), "no question:\n{}", screen.lock().unwrap());
        std::thread::sleep(Duration::from_millis(10));
    }
    // The lock file names its holder: the wamig process behind the terminal.
    let lock = rig.path().join(".wamig/state.json.lock");
    let holder: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&lock).unwrap()).unwrap();
    let pid = holder["pid"].as_u64().unwrap();
    assert!(Command::new("kill").args(["-INT", &pid.to_string()]).status().unwrap().success());

    let status = child.wait().unwrap();
    reader.join().unwrap();
    let shown = screen.lock().unwrap().clone();
    assert!(shown.contains("Only 'yes' will be accepted"), "{shown}");
    assert!(shown.contains("Apply cancelled; nothing was done."), "{shown}");
    assert_eq!(status.code(), Some(130), "{shown}");
    assert_eq!(std::fs::read_to_string(&lock).unwrap(), "", "the lock is released, not left behind");
    assert_eq!(writes(&rig), 0, "nothing was written");
}
