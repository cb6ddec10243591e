//! The Upgrade page in headless Chromium, against a real routerd whose upgrade directory
//! exists (on the appliance the image's init makes it; here a temporary one, with the `boot`
//! record the init would write). Bundles that are not a release for this box (not an archive,
//! cut off, another architecture) go through routerd's real check and staging
//! (`POST /v1/system/upgrade`) and are refused: the page says why next to the file field and
//! nothing is staged. A valid bundle (built with routerd's own `upgrade::build_bundle` for this
//! host's architecture) is staged for the installer (`ready/` with the manifest, the files and
//! the request) and the page says it was checked. Uploads go through app.js (XHR with a
//! progress bar), as in a browser with scripts.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use dialgate_routerd::upgrade::build_bundle;
use fantoccini::Locator;
use support::{ADMIN_PASSWORD, Harness, Options, TempDir, browser_available};

async fn set_up_admin(h: &Harness) {
    h.goto("/").await;
    assert_eq!(h.path().await, "/setup");
    h.fill("setup-code", &h.setup_code()).await;
    h.fill("setup-password", ADMIN_PASSWORD).await;
    h.fill("setup-confirm", ADMIN_PASSWORD).await;
    h.click("main form button[type=submit]").await;
    assert_eq!(h.path().await, "/dashboard", "{}", h.webui_log());
}

/// The text of the element `#id`.
async fn text_of(h: &Harness, id: &str) -> String {
    match h.browser.find(Locator::Id(id)).await {
        Ok(e) => e.text().await.unwrap(),
        Err(_) => panic!("no #{id} on the page: {}", h.text().await),
    }
}

/// Opens the Upgrade page, picks `file` (unticking "Reboot into it" unless `reboot`) and
/// submits the form.
async fn upload(h: &Harness, file: &std::path::Path, reboot: bool) {
    h.goto("/upgrade").await;
    h.browser
        .find(Locator::Id("bundle"))
        .await
        .unwrap()
        .send_keys(file.to_str().unwrap())
        .await
        .unwrap();
    if !reboot {
        h.tap("#upgrade-form input[name=reboot]").await;
    }
    h.click("#upgrade-form button[type=submit]").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgrade_page_refuses_bad_bundles_and_stages_a_good_one() {
    if !browser_available() {
        return;
    }
    let upgrade = TempDir::new("webui-upgrade-dir");
    std::fs::write(upgrade.path().join("boot"), "slot=a\nversion=host-1\n").unwrap();
    let mut h = Harness::start(
        "upgrade",
        Options {
            system_extra: format!("upgrade_dir = \"{}\"", upgrade.path().display()),
            ..Options::default()
        },
    )
    .await;
    set_up_admin(&h).await;
    h.goto("/upgrade").await;
    let status = text_of(&h, "upgrade-status").await;
    assert!(status.contains("slot a"), "{status}");
    assert!(status.contains("host-1"), "{status}");
    assert!(status.contains("idle"), "{status}");
    h.screenshot("upgrade").await;

    let arch = std::env::consts::ARCH;
    let other_arch = if arch == "aarch64" {
        "x86_64"
    } else {
        "aarch64"
    };
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("root.sqfs", b"hsqs".repeat(3000)),
        ("vmlinuz", b"kernel".repeat(500)),
        ("initrd.img", b"initramfs".repeat(300)),
    ];
    let files: Vec<(&str, &[u8])> = files.iter().map(|(n, d)| (*n, d.as_slice())).collect();
    let good = build_bundle(arch, "host-2", &files);
    let dir = TempDir::new("webui-upgrade-files");
    let bad = [
        (
            "not-a-bundle.upgrade",
            b"this is not an upgrade bundle\n".repeat(100),
            "not a valid upgrade bundle",
        ),
        (
            "cut.upgrade",
            good[..good.len() / 2].to_vec(),
            "not a valid upgrade bundle: the archive ends",
        ),
        (
            "other-arch.upgrade",
            build_bundle(other_arch, "host-2", &files),
            "the bundle is for",
        ),
    ];
    for (name, data, why) in bad {
        let file = dir.path().join(name);
        std::fs::write(&file, data).unwrap();
        upload(&h, &file, true).await;
        assert_eq!(h.path().await, "/upgrade");
        let error = text_of(&h, "bundle-error").await;
        assert!(error.contains(why), "{name}: {error}");
        let invalid = h
            .browser
            .find(Locator::Id("bundle"))
            .await
            .unwrap()
            .attr("aria-invalid")
            .await
            .unwrap();
        assert_eq!(invalid.as_deref(), Some("true"), "{name}");
        assert!(!upgrade.path().join("ready").exists(), "{name} was staged");
        let status = text_of(&h, "upgrade-status").await;
        assert!(status.contains("idle"), "{name}: {status}");
        if name == "cut.upgrade" {
            h.screenshot("upgrade-refused").await;
        }
    }
    let log = h.routerd_log();
    assert!(!log.contains("image upgrade staged"), "{log}");

    // A valid release: routerd stages it for the installer, without a reboot.
    let file = dir.path().join("good.upgrade");
    std::fs::write(&file, &good).unwrap();
    upload(&h, &file, false).await;
    assert_eq!(h.path().await, "/upgrade");
    let text = h.text().await;
    assert!(
        text.contains("Release host-2 checked; it is being written and boots at the next reboot."),
        "{text}"
    );
    let status = text_of(&h, "upgrade-status").await;
    assert!(status.contains("staged host-2"), "{status}");
    let ready = upgrade.path().join("ready");
    for (name, data) in &files {
        assert_eq!(std::fs::read(ready.join(name)).unwrap(), *data, "{name}");
    }
    let request = std::fs::read_to_string(ready.join("request")).unwrap();
    assert_eq!(request, "tries=3\nreboot=0\n");
    h.screenshot("upgrade-staged").await;
    h.close().await;
}
