//! Every manifest under examples/ is valid, carries the schema line for editors, and reads the
//! same through wamig's positioned decoder as through serde_yaml directly.

use crate::support::{repo_root, wamig};

fn example_manifests() -> Vec<std::path::PathBuf> {
    let mut paths: Vec<_> = std::fs::read_dir(repo_root().join("examples"))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

#[test]
fn every_example_validates() {
    let examples = example_manifests();
    assert!(examples.len() >= 2);
    for path in examples {
        let output = wamig(&repo_root()).arg("validate").arg("-f").arg(&path).output().unwrap();
        assert!(output.status.success(), "{}: {}", path.display(), String::from_utf8_lossy(&output.stderr));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.lines()
                .next()
                .unwrap()
                .starts_with("# yaml-language-server: $schema=../schemas/manifest.schema.json"),
            "{} lacks the schema line",
            path.display()
        );
    }
}

/// The structural decoder walks the generated schema; serde_yaml reads the types directly. A
/// manifest `validate` accepts must mean the same to serde_yaml, and one serde_yaml cannot read
/// must not pass `validate`.
#[test]
fn decoder_and_serde_yaml_agree() {
    let mut paths = example_manifests();
    let bad = repo_root().join("tests/manifests/bad");
    paths.extend(std::fs::read_dir(bad).unwrap().map(|e| e.unwrap().path()));
    for path in paths {
        let Ok(text) = std::fs::read_to_string(&path) else { continue };
        let ours = wamig::manifest::parse(&text, &path).ok().map(|loaded| loaded.manifest);
        let theirs = serde_yaml::from_str::<wamig::manifest::Manifest>(&text).ok();
        if let Some(ours) = &ours {
            assert_eq!(Some(ours), theirs.as_ref(), "{} reads differently", path.display());
        }
        if theirs.is_none() {
            assert!(ours.is_none(), "{} passes validate but serde_yaml cannot read it", path.display());
        }
    }
}
