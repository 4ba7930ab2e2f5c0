//! Every MCMC sampler with its defaults (NUTS, Nutpie, BAOAB, MALA, ray tracing; and ray tracing
//! with the paper's fixed five steps, `rays p` without and `rays+` with the warmup metric and the
//! mode start; `rays t` with each chain's arc chosen in warmup) on the posteriordb
//! references the language expresses: for each, whether the draws pass the reference check
//! (means within 4·MCSE and slack, sds within 15%, R-hat ≤ 1.01), the minimum bulk ESS and the ESS
//! per 1,000 gradients after warmup. Skips with a message when the references are absent.
//!
//! `cargo run --release --example validation` (4 chains × 1000 warmup + 1000 draws;
//! `ONLY=name` runs the posteriors whose name contains `name`, `SAMPLER=baoab` one sampler). The columns: the check, the
//! minimum bulk ESS, ESS per 1,000 gradients after warmup, seconds, gradients per draw and the
//! chains' mean step size.

use snell::prelude::*;
use snell::sampler::langevin::Baoab;
use snell::sampler::mala::Mala;
use snell::sampler::nuts::Nuts;
use snell::sampler::nutpie::Nutpie;
use snell::sampler::ray_tracing::RayTracing;
use snell::sampler::{run, Draws, RunConfig, Sampler};
use snell::target::Target;
use snell_examples::posteriordb::*;

fn row<S: Sampler>(model: &str, name: &str, sampler: &S, target: &(dyn Target + Sync), reference: &serde_json::Value) {
    let cfg = RunConfig { chains: 4, warmup: 1000, draws: 1000, seed: 1, init: None };
    let t = std::time::Instant::now();
    let draws: Draws = match run(sampler, target, &cfg) {
        Ok(d) => d,
        Err(e) => {
            println!("{model:<28} {name:<6} error: {e}");
            return;
        }
    };
    let secs = t.elapsed().as_secs_f64();
    let (_, fails) = check_reference(model, reference, &draws);
    // gradients after warmup: counted by ray tracing, a leapfrog step is one, a MALA draw is one
    let grads: f64 = draws.stat("n_grad__").or_else(|| draws.stat("n_leapfrog__")).map_or((cfg.chains * cfg.draws) as f64, |g| g.iter().flatten().sum());
    let ess = draws.summary().rows().iter().skip(1).map(|r| r.ess_bulk).fold(f64::INFINITY, f64::min);
    let eps: Vec<f64> = (0..cfg.chains).map(|c| draws.chains[c].step_size).collect();
    println!("{model:<28} {name:<6} {:<5} {ess:>8.0} {:>10.2} {secs:>7.1} {:>8.1} {:>9.2e}  {}", if fails.is_empty() { "pass" } else { "FAIL" }, 1000.0 * ess / grads, grads / (cfg.chains * cfg.draws) as f64, eps.iter().sum::<f64>() / eps.len() as f64, fails.first().cloned().unwrap_or_default());
}

fn main() {
    if !references_available() {
        println!("posteriordb references not found (../shared/reference/posteriordb or SNELL_POSTERIORDB): nothing to validate");
        return;
    }
    println!("{:<28} {:<6} {:<5} {:>8} {:>10} {:>7} {:>8} {:>9}", "posterior", "sampler", "check", "min ESS", "ESS/1k grad", "s", "grad/draw", "step");
    let models: Vec<(&str, Box<dyn Target + Sync>)> = {
        let r = |f: &str| reference(f);
        let es = r("eight_schools-eight_schools_noncentered");
        let ark = r("arK-arK");
        let kid = r("kidiq-kidscore_momhsiq");
        let mix = r("low_dim_gauss_mix-low_dim_gauss_mix");
        let blr = r("sblrc-blr");
        let garch = r("garch-garch11");
        let wells = r("wells_data-wells_dae_inter_model");
        let blri = r("sblri-blr");
        let esc = r("eight_schools-eight_schools_centered");
        let gp = r("gp_pois_regr-gp_pois_regr");
        let rows: Vec<Vec<f64>> = blr["data"]["X"].as_array().unwrap().iter().map(reals).collect();
        let rows_i: Vec<Vec<f64>> = blri["data"]["X"].as_array().unwrap().iter().map(reals).collect();
        vec![
            ("eight_schools-eight_schools_noncentered", Box::new(EightSchoolsNoncentered::new(&reals(&es["data"]["y"]), &reals(&es["data"]["sigma"])).unwrap())),
            ("arK-arK", Box::new(ArK::new(&reals(&ark["data"]["y"]), ark["data"]["K"].as_u64().unwrap() as usize).unwrap())),
            ("kidiq-kidscore_momhsiq", Box::new(KidscoreMomhsiq::new(&reals(&kid["data"]["kid_score"]), &reals(&kid["data"]["mom_iq"]), &reals(&kid["data"]["mom_hs"])).unwrap())),
            ("low_dim_gauss_mix-low_dim_gauss_mix", Box::new(LowDimGaussMix::new(&reals(&mix["data"]["y"])).unwrap())),
            ("sblrc-blr", Box::new(Blr::new(&Matrix::from_rows(&rows).unwrap(), &reals(&blr["data"]["y"])).unwrap())),
            ("garch-garch11", Box::new(Garch11::new(&reals(&garch["data"]["y"]), garch["data"]["sigma1"].as_f64().unwrap()).unwrap())),
            ("wells_data-wells_dae_inter_model", Box::new(WellsDaeInter::new(&ints(&wells["data"]["switched"]), &wells_design(&wells["data"])).unwrap())),
            ("sblri-blr", Box::new(Blr::new(&Matrix::from_rows(&rows_i).unwrap(), &reals(&blri["data"]["y"])).unwrap())),
            ("eight_schools-eight_schools_centered", Box::new(EightSchoolsCentered::new(&reals(&esc["data"]["y"]), &reals(&esc["data"]["sigma"])).unwrap())),
            ("gp_pois_regr-gp_pois_regr", Box::new(GpPoisRegr::new(&reals(&gp["data"]["x"]), &ints(&gp["data"]["k"])).unwrap())),
            ("radon_mn-radon_hierarchical_intercept_noncentered", Box::new(radon(&r("radon_mn-radon_hierarchical_intercept_noncentered")).unwrap())),
            ("diamonds-diamonds", Box::new(diamonds(&r("diamonds-diamonds")).unwrap())),
        ]
    };
    let only = std::env::var("ONLY").ok();
    for (name, target) in models.iter().filter(|(n, _)| only.as_deref().is_none_or(|o| n.contains(o))) {
        let r = reference(name);
        let only_sampler = std::env::var("SAMPLER").ok();
        let wanted = |s: &str| only_sampler.as_deref().is_none_or(|o| o == s);
        if wanted("nuts") {
            row(name, "nuts", &Nuts::default(), target.as_ref(), &r);
        }
        if wanted("nutpie") {
            row(name, "nutpie", &Nutpie::default(), target.as_ref(), &r);
        }
        if wanted("baoab") {
            row(name, "baoab", &Baoab::default(), target.as_ref(), &r);
        }
        if wanted("mala") {
            row(name, "mala", &Mala::default(), target.as_ref(), &r);
        }
        if wanted("rays") {
            row(name, "rays", &RayTracing::default(), target.as_ref(), &r);
            // what the defaults are measured against: the paper's fixed five steps with no metric
            // and no mode start, and the fixed steps with the metric and the mode start
            row(name, "rays p", &RayTracing { metric: false, start_at_mode: false, ..RayTracing::new(0.3, 5) }, target.as_ref(), &r);
            row(name, "rays+", &RayTracing { metric: true, start_at_mode: true, ..RayTracing::new(0.3, 5) }, target.as_ref(), &r);
        }
        if wanted("rays t") {
            row(name, "rays t", &RayTracing { tune_arc: true, ..RayTracing::default() }, target.as_ref(), &r);
        }
    }
}
