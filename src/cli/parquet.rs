//! `apiscope flows … --format parquet -o FILE_OR_DIR`: exchanges streamed into one Parquet
//! file, or into a dataset folder with one part per input (inputs converted in parallel,
//! optionally in hive partition folders). Without the `parquet` cargo feature it says how
//! to get it.

#[cfg(not(feature = "parquet"))]
use super::flows::FlowsArgs;

/// Run the Parquet output of `flows`.
///
/// # Errors
/// No `-o`, unreadable input, or failing to write.
#[cfg(not(feature = "parquet"))]
pub fn run(_args: &FlowsArgs) -> anyhow::Result<u8> {
    anyhow::bail!(
        "this apiscope was built without Parquet support; rebuild it with the `parquet` feature \
         (on by default): `cargo install apiscope --features parquet`, or drop `--no-default-features`"
    )
}

#[cfg(feature = "parquet")]
pub use enabled::run;

#[cfg(feature = "parquet")]
mod enabled {
    use std::path::{Path, PathBuf};

    use anyhow::Context as _;
    use rayon::prelude::*;

    use super::super::export::{add_client_flags, cli_filter_context, client_flags};
    use super::super::flows::{Filtered, FlowsArgs};
    use super::super::input::{Tap, print_file_diagnostics};
    use crate::export::parquet::{FlowsSink, PartsWriter, Target, Written, part_name};
    use crate::filter::Filter;
    use crate::ingest::{self, ReadOptions};
    use crate::spec::Spec;

    /// Run the Parquet output of `flows`.
    ///
    /// # Errors
    /// No `-o`, unreadable input, or failing to write.
    pub fn run(args: &FlowsArgs) -> anyhow::Result<u8> {
        let Ok(filter) = super::super::export::parse_filter(args.filter.as_deref()) else {
            return Ok(super::super::EXIT_BAD_INPUT);
        };
        let filter = filter.as_ref();
        let Some(out) = &args.output else {
            anyhow::bail!(
                "--format parquet needs -o FILE.parquet or -o FOLDER/ (Parquet is not written to a terminal)"
            );
        };
        if args.files.iter().any(|f| f.as_os_str() == "-") && args.files.len() > 1 {
            anyhow::bail!("standard input (`-`) cannot be mixed with other inputs for Parquet output");
        }
        let spec = super::super::export::load_filter_spec(args.spec.as_ref(), args.allow_ref_outside)?;
        let mut opts = args.bodies.read_options();
        if filter.is_some_and(Filter::needs_bodies) {
            opts.body_cap = opts.body_cap.max(ReadOptions::default().body_cap);
        }
        let job = Job { args, filter, spec: spec.as_ref(), opts };
        let results: Vec<anyhow::Result<(Written, u64)>> = if is_folder(out) {
            std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
            // One part per input, converted in parallel.
            args.files.par_iter().map(|f| job.convert(std::slice::from_ref(f), Some(out))).collect()
        } else {
            vec![job.convert(&args.files, None)]
        };
        let (mut files, mut rows, mut rejected) = (0usize, 0u64, 0u64);
        for r in results {
            let (w, rej) = r?;
            files += w.files.len();
            rows += w.rows;
            rejected += rej;
        }
        let filtered = if filter.is_some() { format!(" ({rejected} filtered out)") } else { String::new() };
        eprintln!(
            "apiscope: {rows} exchanges{filtered} written to {files} Parquet file{} under {}",
            if files == 1 { "" } else { "s" },
            crate::model::text::visible(&out.display().to_string())
        );
        Ok(super::super::EXIT_OK)
    }

    /// True when `-o` names a folder: it ends with a separator or is an existing folder.
    fn is_folder(p: &Path) -> bool {
        p.as_os_str().to_string_lossy().ends_with(['/', std::path::MAIN_SEPARATOR]) || p.is_dir()
    }

    /// What every conversion shares.
    struct Job<'a> {
        args: &'a FlowsArgs,
        filter: Option<&'a Filter>,
        spec: Option<&'a std::sync::Arc<Spec>>,
        opts: ReadOptions,
    }

    impl Job<'_> {
        /// Convert `files` into one file (`dir` `None`: the `-o` file) or into this input's
        /// part(s) under `dir`. Returns what was written and how many exchanges the filter
        /// left out.
        fn convert(&self, files: &[PathBuf], dir: Option<&PathBuf>) -> anyhow::Result<(Written, u64)> {
            let args = self.args;
            let target = match (dir, files) {
                (Some(d), [one]) => Target::Parts { dir: d.clone(), name: part_name(one) },
                _ => Target::File(args.output.clone().unwrap_or_default()),
            };
            let sources: Vec<String> = files.iter().map(|f| ingest::display_path(f).display().to_string()).collect();
            let writer = PartsWriter::new(target, args.partition_by.into(), &args.files, &sources)?;
            let mut sink = FlowsSink::new(writer, self.spec.map(|s| &**s), args.client_key.clone(), args.bodies);
            let mut rejected = 0;
            let flags = client_flags(self.filter, files, self.spec)?;
            for (f, name) in files.iter().zip(&sources) {
                sink.begin_input();
                let ctx = add_client_flags(cli_filter_context(self.spec), flags.clone());
                let mut filtered = Filtered { inner: &mut sink, filter: self.filter, ctx, rejected: 0 };
                let mut tap = Tap::new(&mut filtered);
                ingest::read_path(f, &self.opts, &mut tap)
                    .with_context(|| format!("cannot read {}", crate::model::text::visible(name)))?;
                print_file_diagnostics(&tap, args.max_diagnostics);
                drop(tap);
                rejected += filtered.rejected;
            }
            Ok((sink.finish()?, rejected))
        }
    }
}
