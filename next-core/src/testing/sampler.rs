//! [`MockSampler`]: a model of chosen skill that gets better with training data.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use async_trait::async_trait;

use super::rng::{Fnv, SplitMix64};
use super::trainer::examples_in;
use super::verdict::{MockOutcome, VerdictPattern};
use crate::prompt::{format_answer, Prompt};
use crate::sample::{RationaleSampler, Sample, SampleError, SamplingParams};
use crate::task::{Program, TaskId};
use crate::train::Checkpoint;

/// How likely a mock model's fix is to pass, as a function of the number `N` of training
/// examples its checkpoint has seen: `min(max, base + growth * N)`, clamped to `[0, 1]`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Skill {
    /// The skill of the base model (`N = 0`).
    pub base: f64,
    /// What each training example adds.
    pub growth: f64,
    /// The ceiling training cannot pass.
    pub max: f64,
}

impl Skill {
    /// A skill that training does not change.
    pub fn fixed(skill: f64) -> Self {
        Self {
            base: skill,
            growth: 0.0,
            max: 1.0,
        }
    }

    /// A skill that starts at `base` and grows by `growth` per training example up to
    /// `max`.
    pub fn growing(base: f64, growth: f64, max: f64) -> Self {
        Self { base, growth, max }
    }

    /// The probability that a fix passes after `examples` training examples; a NaN in
    /// the parameters counts as 0.
    pub fn at(&self, examples: u64) -> f64 {
        #[allow(clippy::cast_precision_loss)] // example counts are far below 2^52
        let grown = (self.base + self.growth * examples as f64).min(self.max);
        if grown.is_nan() {
            0.0
        } else {
            grown.clamp(0.0, 1.0)
        }
    }
}

impl Default for Skill {
    /// Base 0.2, +0.005 per example, at most 0.8.
    fn default() -> Self {
        Self::growing(0.2, 0.005, 0.8)
    }
}

/// The text that marks a task in a prompt, for [`MockSampler::with_task_skill`]:
/// `` [task `ID`] ``. The tasks of [`strategies`](super::strategies) put it in their
/// spec; put it in your own tasks' spec to single them out.
pub fn task_tag(id: &TaskId) -> String {
    format!("[task `{id}`]")
}

/// A [`RationaleSampler`] whose answers pass with a chosen, trainable probability.
///
/// Each sample is a rationale followed by a fenced fix (written with
/// [`format_answer`] and parsed with [`Sample::from_raw`], like a real backend), or,
/// with probability `unparseable_rate`, a rationale with no code block. The fix is one
/// of `variants` distinct programs (so that duplicate fixes happen), and carries a
/// `# mock-verdict:` marker: `pass` with probability [`Skill::at`]`(N)`, where `N` is
/// the training examples recorded in the checkpoint (see [the convention](super::trainer)),
/// otherwise one of `fail`, `error`, `timeout`, `resource`, for every test. A
/// [`MockVerifier`](super::MockVerifier) then judges the fix accordingly. The expected
/// fraction of passing samples is `(1 - unparseable_rate) * skill`.
///
/// Fixes of different variants, and passing and failing fixes of one variant, differ in
/// [`Program::normalized`] form.
///
/// Sample `i` of a call is a pure function of the checkpoint, the prompt's text,
/// `params.seed` (`None` counts as 0) and `i`: the same call gives the same samples, and
/// the first `k` samples of a call with `n >= k` are those of the call with `n = k`.
/// A call returns exactly `n` samples. A checkpoint that is not a mock one gives
/// [`SampleError::Checkpoint`].
///
/// Skill can differ per task: [`MockSampler::with_skill_for`] gives every prompt that
/// contains a needle its own [`Skill`]; the first matching override wins.
///
/// Clones share the call counter.
#[derive(Debug, Clone)]
pub struct MockSampler {
    skill: Skill,
    overrides: Vec<(String, Skill)>,
    unparseable_rate: f64,
    variants: u64,
    calls: Arc<AtomicUsize>,
}

impl Default for MockSampler {
    /// [`Skill::default`], 5% unparseable answers, 4 variants.
    fn default() -> Self {
        Self::new(Skill::default())
    }
}

impl MockSampler {
    /// A sampler of this skill, with 5% unparseable answers and 4 variants.
    pub fn new(skill: Skill) -> Self {
        Self {
            skill,
            overrides: Vec::new(),
            unparseable_rate: 0.05,
            variants: 4,
            calls: Arc::default(),
        }
    }

    /// A sampler whose fixes pass with probability `skill` whatever its training, with no
    /// unparseable answers.
    pub fn fixed(skill: f64) -> Self {
        Self::new(Skill::fixed(skill)).with_unparseable_rate(0.0)
    }

    /// Sets the probability of an answer without a code block (clamped to `[0, 1]`).
    #[must_use]
    pub fn with_unparseable_rate(mut self, rate: f64) -> Self {
        self.unparseable_rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self
    }

    /// Sets how many distinct fixes the model writes per outcome (at least 1).
    #[must_use]
    pub fn with_variants(mut self, variants: u32) -> Self {
        self.variants = u64::from(variants.max(1));
        self
    }

    /// Gives prompts whose plain text contains `needle` their own skill.
    #[must_use]
    pub fn with_skill_for(mut self, needle: impl Into<String>, skill: Skill) -> Self {
        self.overrides.push((needle.into(), skill));
        self
    }

    /// Gives the task `id` its own skill: an override keyed by [`task_tag`], so it
    /// applies to prompts of tasks whose spec holds the tag.
    #[must_use]
    pub fn with_task_skill(self, id: &TaskId, skill: Skill) -> Self {
        self.with_skill_for(task_tag(id), skill)
    }

    /// The skill that applies to `prompt`.
    pub fn skill_for(&self, prompt: &Prompt) -> Skill {
        self.skill_for_text(&prompt.to_plain_text())
    }

    fn skill_for_text(&self, text: &str) -> Skill {
        self.overrides
            .iter()
            .find(|(needle, _)| text.contains(needle.as_str()))
            .map_or(self.skill, |(_, skill)| *skill)
    }

    /// The probability that a sampled answer for `prompt` from `model` passes:
    /// `(1 - unparseable_rate) * skill`.
    ///
    /// # Errors
    /// [`SampleError::Checkpoint`] when `model` is not a mock checkpoint.
    pub fn pass_probability(
        &self, model: &Checkpoint, prompt: &Prompt,
    ) -> Result<f64, SampleError> {
        let examples = checkpoint_examples(model)?;
        Ok((1.0 - self.unparseable_rate) * self.skill_for(prompt).at(examples))
    }

    /// How many times [`RationaleSampler::sample`] was called, on this sampler or a clone.
    pub fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn draw(&self, call_seed: u64, index: usize, skill: f64) -> Sample {
        let mut rng = SplitMix64::new(Fnv::new().u64(call_seed).usize(index).finish());
        let tag = rng.next_u64();
        if rng.unit() < self.unparseable_rate {
            return Sample::from_raw(format!(
                "Mock rationale {tag:016x}. I traced the program but could not decide \
                 on a fix, so this answer has no code block."
            ));
        }
        let passes = rng.unit() < skill;
        let variant = rng.below(self.variants);
        let outcome = if passes {
            MockOutcome::Pass
        } else {
            let failures = MockOutcome::FAILURES;
            let pick = rng.below(failures.len() as u64);
            failures[usize::try_from(pick).unwrap_or(0)]
        };
        let fix = fix_program(variant, &VerdictPattern::all(outcome));
        let rationale = format!(
            "Mock rationale {tag:016x}. The task asks for one value; for the first assertion \
             the program returns another, because it takes the wrong branch. Variant \
             {variant} takes the right one.\nHere is a fixed version:"
        );
        Sample::from_raw(format_answer(&rationale, &fix))
    }
}

fn checkpoint_examples(model: &Checkpoint) -> Result<u64, SampleError> {
    examples_in(model).map_err(|reason| SampleError::Checkpoint {
        name: model.name.clone(),
        reason,
    })
}

/// The fix of one variant: real code that names the variant and the verdict (so that
/// normal forms differ), then the marker.
fn fix_program(variant: u64, pattern: &VerdictPattern) -> Program {
    Program::new(format!(
        "def mock_fix(x):\n    # variant {variant}\n    return x + {variant}\n\n\
         VARIANT = {variant}\nVERDICT = \"{pattern}\"\n{}\n",
        pattern.marker()
    ))
}

#[async_trait]
impl RationaleSampler for MockSampler {
    async fn sample(
        &self, model: &Checkpoint, prompt: &Prompt, n: usize, params: &SamplingParams,
    ) -> Result<Vec<Sample>, SampleError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let examples = checkpoint_examples(model)?;
        let text = prompt.to_plain_text();
        let skill = self.skill_for_text(&text).at(examples);
        let call_seed = Fnv::new()
            .str(&model.name)
            .str(&model.data.to_string())
            .str(&text)
            .u64(params.seed.unwrap_or(0))
            .finish();
        Ok((0..n).map(|i| self.draw(call_seed, i, skill)).collect())
    }
}

/// The fraction of `n` samples drawn by `sampler` whose fix passes under the mock
/// verifier's `assert mock_fix(1) == 1`.
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) fn pass_fraction(
    sampler: &dyn RationaleSampler, model: &Checkpoint, prompt: &Prompt, n: usize,
    params: &SamplingParams,
) -> f64 {
    let drawn = futures::executor::block_on(sampler.sample(model, prompt, n, params)).unwrap();
    assert_eq!(drawn.len(), n);
    let tests = [crate::task::TestCase::new("assert mock_fix(1) == 1").unwrap()];
    let passed = drawn
        .iter()
        .filter_map(Sample::fix)
        .filter(|fix| super::MockVerifier::judge(fix, &tests).passed())
        .count();
    #[allow(clippy::cast_precision_loss)]
    let fraction = passed as f64 / n as f64;
    fraction
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::BTreeSet;

    use futures::executor::block_on;

    use super::*;
    use crate::prompt::{Message, Role};
    use crate::testing::trainer::mock_checkpoint;

    fn prompt(text: &str) -> Prompt {
        Prompt {
            messages: vec![Message::new(Role::User, text)],
        }
    }

    fn params(seed: Option<u64>) -> SamplingParams {
        SamplingParams {
            seed,
            ..SamplingParams::default()
        }
    }

    fn pass_fraction(sampler: &MockSampler, model: &Checkpoint, text: &str, n: usize) -> f64 {
        super::pass_fraction(sampler, model, &prompt(text), n, &params(Some(1)))
    }

    #[test]
    fn samples_are_a_function_of_their_inputs() {
        let sampler = MockSampler::default();
        let base = Checkpoint::base();
        let p = prompt("fix f");
        let a = block_on(sampler.sample(&base, &p, 16, &params(Some(3)))).unwrap();
        let b = block_on(sampler.sample(&base, &p, 16, &params(Some(3)))).unwrap();
        assert_eq!(a, b);
        let prefix = block_on(sampler.sample(&base, &p, 5, &params(Some(3)))).unwrap();
        assert_eq!(prefix[..], a[..5]);
        let reseeded = block_on(sampler.sample(&base, &p, 16, &params(Some(4)))).unwrap();
        assert_ne!(a, reseeded);
        let none = block_on(sampler.sample(&base, &p, 16, &params(None))).unwrap();
        let zero = block_on(sampler.sample(&base, &p, 16, &params(Some(0)))).unwrap();
        assert_eq!(none, zero);
        let other_prompt = block_on(sampler.sample(&base, &prompt("fix g"), 16, &params(Some(3))));
        assert_ne!(a, other_prompt.unwrap());
        assert!(block_on(sampler.sample(&base, &p, 0, &params(None)))
            .unwrap()
            .is_empty());
        assert_eq!(sampler.calls(), 8);
    }

    #[test]
    fn pass_fraction_matches_skill_and_grows_with_training() {
        let sampler = MockSampler::new(Skill::growing(0.2, 0.01, 0.9)).with_unparseable_rate(0.1);
        let expected = [(0, 0.9 * 0.2), (30, 0.9 * 0.5), (1000, 0.9 * 0.9)];
        let mut last = 0.0;
        for (examples, want) in expected {
            let model = mock_checkpoint("m", examples);
            let got = pass_fraction(&sampler, &model, "fix f", 2000);
            assert!((got - want).abs() < 0.04, "N={examples}: {got} vs {want}");
            let exact = sampler.pass_probability(&model, &prompt("fix f")).unwrap();
            assert!((exact - want).abs() < 1e-12);
            assert!(got > last);
            last = got;
        }
    }

    #[test]
    fn unparseable_answers_and_duplicates_happen() {
        let sampler = MockSampler::fixed(1.0)
            .with_unparseable_rate(0.25)
            .with_variants(3);
        let drawn = block_on(sampler.sample(&Checkpoint::base(), &prompt("p"), 400, &params(None)))
            .unwrap();
        let unparseable = drawn.iter().filter(|s| s.fix().is_none()).count();
        assert!((60..140).contains(&unparseable), "{unparseable}");
        let distinct: BTreeSet<String> = drawn
            .iter()
            .filter_map(Sample::fix)
            .map(Program::normalized)
            .collect();
        assert_eq!(distinct.len(), 3);
        assert!(drawn
            .iter()
            .filter_map(Sample::rationale)
            .all(|r| r.starts_with("Mock rationale")));
    }

    #[test]
    fn pass_and_fail_fixes_differ_in_normal_form() {
        let pass = fix_program(1, &VerdictPattern::pass());
        let fail = fix_program(1, &VerdictPattern::fail());
        assert_ne!(pass.normalized(), fail.normalized());
        assert_ne!(
            fix_program(1, &VerdictPattern::pass()).normalized(),
            fix_program(2, &VerdictPattern::pass()).normalized()
        );
    }

    #[test]
    fn overrides_pick_skill_per_task() {
        let easy = TaskId::new("t/1").unwrap();
        let sampler = MockSampler::fixed(0.0).with_task_skill(&easy, Skill::fixed(1.0));
        let base = Checkpoint::base();
        let tagged = format!("{} add one", task_tag(&easy));
        assert!((pass_fraction(&sampler, &base, &tagged, 50) - 1.0).abs() < f64::EPSILON);
        let other = format!("{} add one", task_tag(&TaskId::new("t/10").unwrap()));
        assert!(pass_fraction(&sampler, &base, &other, 50).abs() < f64::EPSILON);
    }

    #[test]
    fn foreign_checkpoints_are_refused() {
        let foreign = Checkpoint {
            name: "adapter".into(),
            data: serde_json::json!({"path": "/x"}),
        };
        let err = block_on(MockSampler::default().sample(&foreign, &prompt("p"), 1, &params(None)))
            .unwrap_err();
        assert!(matches!(err, SampleError::Checkpoint { .. }), "{err}");
    }
}
