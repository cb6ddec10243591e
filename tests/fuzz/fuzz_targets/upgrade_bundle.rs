//! Image upgrade bundles (a POSIX ustar archive with a manifest, `dialgate_routerd::upgrade`):
//! what `POST /v1/system/upgrade` accepts from the management API. Unpacking never panics;
//! a bundle that unpacks has files whose sizes and digests match its manifest.
#![no_main]

use dialgate_routerd::upgrade::{FILES, MANIFEST, Manifest, unpack};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = Manifest::parse(&String::from_utf8_lossy(data));
    let dir = std::env::temp_dir().join(format!("dialgate-fuzz-upgrade-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(manifest) = unpack(data, &dir, "x86_64") {
        for name in FILES {
            let entry = manifest.file(name).expect("every file is listed");
            let len = std::fs::metadata(dir.join(name)).map(|m| m.len()).unwrap_or(0);
            assert_eq!(len, entry.size);
        }
        let text = std::fs::read_to_string(dir.join(MANIFEST)).unwrap_or_default();
        assert_eq!(Manifest::parse(&text).ok(), Some(manifest));
    }
});
