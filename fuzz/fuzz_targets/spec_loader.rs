//! Any bytes as an OpenAPI spec file (YAML or JSON): loading gives a spec or an error, never a
//! panic; `$ref`s resolve only inside the spec's own (temporary) folder.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(dir) = tempfile::tempdir() else { return };
    let path = dir.path().join("openapi.yaml");
    if std::fs::write(&path, data).is_ok() {
        let _ = apiscope::spec::Spec::load(&path);
    }
});
