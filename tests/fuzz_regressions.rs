//! Every input the fuzzers found a crash with (`fuzz/regressions/TARGET/`)
//! goes through the same entry point again, on a small stack as a worker
//! thread has, and must be refused or accepted without a crash.

use std::path::Path;

use git_authenticate::{cache, signature, Authorizations, ChannelMetadata, Keyring};

/// The fuzz target's entry point, by target name.
fn entry_point(target: &str) -> fn(&[u8]) {
    match target {
        "authorizations" => |data| drop(Authorizations::parse(data)),
        "channel_metadata" => |data| drop(ChannelMetadata::parse(data)),
        "cache_file" => |data| drop(cache::parse_file(data)),
        "keyring" => |data| drop(Keyring::from_files("keyring", [("fuzz.key", data)])),
        "signature" => |data| {
            if let Some((armored, _)) = signature::extract_signature(data) {
                drop(signature::parse_armored(&armored));
            }
            drop(signature::parse_armored(data));
        },
        other => panic!("no entry point for fuzz target {other}"),
    }
}

#[test]
fn fuzz_crashes_stay_fixed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let Ok(targets) = std::fs::read_dir(&root) else {
        eprintln!("no fuzz regressions at {}", root.display());
        return;
    };
    let mut checked = 0;
    for target in targets.flatten() {
        let name = target.file_name().to_string_lossy().into_owned();
        let run = entry_point(&name);
        for input in std::fs::read_dir(target.path()).unwrap().flatten() {
            let data = std::fs::read(input.path()).unwrap();
            let label = input.path().display().to_string();
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn(move || run(&data))
                .unwrap()
                .join()
                .unwrap_or_else(|_| panic!("{label} crashes again"));
            checked += 1;
        }
    }
    eprintln!("{checked} fuzz regressions checked");
}
