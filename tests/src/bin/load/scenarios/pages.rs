//! The donors' pages: `GET /donate` and the checkout's `POST /donate` (a fake Stripe
//! answers at once), each beside a static response from the same actix-web setup in a
//! child process.

use super::{Bench, PathName, fetch_ok};
use crate::driver::drive;
use crate::processes::{free_port, spawn_child, wait_until_ready};

/// The page, then the checkout, if selected.
pub async fn run(bench: &mut Bench) -> anyhow::Result<()> {
    let (get, post) = (
        bench.paths.runs(PathName::DonateGet),
        bench.paths.runs(PathName::DonatePost),
    );
    if !get && !post {
        return Ok(());
    }
    let (load, c) = (bench.load, bench.load.concurrency);
    let client = bench.service.client.clone();
    let base = bench.service.base.clone();
    let page = client
        .get(format!("{base}/donate"))
        .send()
        .await?
        .bytes()
        .await?;
    let page_file = bench.dir.join("donate.html");
    std::fs::write(&page_file, &page)?;
    let static_port = free_port()?;
    let static_server = spawn_child(
        &["--serve-static", &page_file.display().to_string()],
        &[("LISTEN_ADDR", format!("127.0.0.1:{static_port}"))],
        &bench.dir.join("static.log"),
    )?;
    let static_base = format!("http://127.0.0.1:{static_port}");
    wait_until_ready(&client, &format!("{static_base}/donate")).await?;
    if get {
        let static_figures = {
            let (client, url) = (client.clone(), format!("{static_base}/donate"));
            drive(load.unmetered(), c, move |_| {
                fetch_ok(client.get(&url), 200)
            })
            .await
        };
        let page_figures = {
            let (client, url) = (client.clone(), format!("{base}/donate?lang=es"));
            drive(load, c, move |_| fetch_ok(client.get(&url), 200)).await
        };
        bench.record(
            "GET /donate",
            "req/s",
            page_figures,
            Some(static_figures),
            "static page of the same bytes, same actix setup",
        );
    }
    if post {
        let form_token = String::from_utf8_lossy(&page)
            .split("name=\"attempt\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned();
        let post_figures = {
            let (client, url) = (client.clone(), format!("{base}/donate"));
            let origin = base.clone();
            drive(load, c, move |i| {
                let form = [
                    ("frequency", "once".to_owned()),
                    ("amount", "50".to_owned()),
                    ("fund", "GENERAL".to_owned()),
                    ("name", "Ana García".to_owned()),
                    ("email", format!("ana.{i}@load.example.org")),
                    ("attempt", form_token.clone()),
                    ("lang", "es".to_owned()),
                ];
                fetch_ok(
                    client
                        .post(&url)
                        .header("Origin", origin.as_str())
                        .form(&form),
                    303,
                )
            })
            .await
        };
        let static_post = {
            let (client, url) = (client.clone(), format!("{static_base}/donate"));
            drive(load.unmetered(), c, move |_| {
                fetch_ok(client.post(&url).form(&[("amount", "50")]), 200)
            })
            .await
        };
        bench.record(
            "POST /donate -> fake Stripe -> 303",
            "req/s",
            post_figures,
            Some(static_post),
            "static response, same actix setup",
        );
    }
    drop(static_server);
    Ok(())
}
