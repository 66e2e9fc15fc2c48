//! The chat template of a GGUF (`tokenizer.chat_template`, Jinja), rendered with
//! minijinja the way llama.cpp's Python bindings and Hugging Face render it: blocks
//! trimmed (`trim_blocks`, `lstrip_blocks`), `messages`, `add_generation_prompt = true`,
//! `bos_token` and `eos_token` defined, `raise_exception` available, and Python's string
//! methods (`.strip()`, `.startswith()`, ...) through minijinja's `pycompat`.

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, Error, ErrorKind, Value};
use next_core::prompt::{Prompt, Role};

use super::error::CandleError;

/// A compiled chat template.
///
/// Invariant: the environment holds one template, `NAME`, that compiled.
pub struct ChatTemplate {
    env: Environment<'static>,
    bos: String,
    eos: String,
}

impl std::fmt::Debug for ChatTemplate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatTemplate").finish_non_exhaustive()
    }
}

const NAME: &str = "chat";

impl ChatTemplate {
    /// Compiles `source`, with the texts of the BOS and EOS tokens it may refer to.
    ///
    /// # Errors
    /// [`CandleError::Template`] when it does not compile.
    pub fn new(source: &str, bos: &str, eos: &str) -> Result<Self, CandleError> {
        let mut env = Environment::new();
        let syntax = SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .map_err(|err| CandleError::Template(describe(&err)))?;
        env.set_syntax(syntax);
        env.set_unknown_method_callback(minijinja_contrib::pycompat::unknown_method_callback);
        env.add_function(
            "raise_exception",
            |message: String| -> Result<String, Error> {
                Err(Error::new(ErrorKind::InvalidOperation, message))
            },
        );
        env.add_template_owned(NAME, source.to_owned())
            .map_err(|err| CandleError::Template(describe(&err)))?;
        Ok(Self {
            env,
            bos: bos.to_owned(),
            eos: eos.to_owned(),
        })
    }

    /// The prompt as the model reads it, ending with the opening of the assistant's turn.
    ///
    /// # Errors
    /// [`CandleError::Template`] when rendering fails (the template raised an exception
    /// for these messages, say).
    pub fn render(&self, prompt: &Prompt) -> Result<String, CandleError> {
        self.render_messages(prompt, None)
    }

    /// The prompt followed by `answer` as the assistant's closed turn, without a
    /// generation prompt: the text a trainer teaches (the part after
    /// [`ChatTemplate::render`]'s text, when it begins with it, is the answer's).
    ///
    /// # Errors
    /// As [`ChatTemplate::render`].
    pub fn render_answer(&self, prompt: &Prompt, answer: &str) -> Result<String, CandleError> {
        self.render_messages(prompt, Some(answer))
    }

    fn render_messages(
        &self, prompt: &Prompt, answer: Option<&str>,
    ) -> Result<String, CandleError> {
        let role_name = |role: Role| match role {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        let mut messages: Vec<Value> = prompt
            .messages
            .iter()
            .map(|m| minijinja::context! { role => role_name(m.role), content => m.content.as_str() })
            .collect();
        if let Some(answer) = answer {
            messages.push(minijinja::context! { role => "assistant", content => answer });
        }
        let template = self
            .env
            .get_template(NAME)
            .map_err(|err| CandleError::Template(describe(&err)))?;
        template
            .render(minijinja::context! {
                messages => messages,
                add_generation_prompt => answer.is_none(),
                bos_token => self.bos.as_str(),
                eos_token => self.eos.as_str(),
            })
            .map_err(|err| CandleError::Template(describe(&err)))
    }
}

/// minijinja's error with its causes, on one line.
fn describe(err: &Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use next_core::prompt::Message;

    use super::*;

    const CHATML: &str = "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}";

    #[test]
    fn chatml_renders_turns_and_the_generation_prompt() {
        let template = ChatTemplate::new(CHATML, "<|im_start|>", "<|im_end|>").unwrap();
        let prompt = Prompt {
            messages: vec![
                Message::new(Role::System, "Be brief."),
                Message::new(Role::User, "Hi"),
            ],
        };
        assert_eq!(
            template.render(&prompt).unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
        );
        assert_eq!(
            template.render_answer(&prompt, "Hello").unwrap(),
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n"
        );
        let no_system = Prompt {
            messages: vec![Message::new(Role::User, "Hi")],
        };
        assert!(template
            .render(&no_system)
            .unwrap()
            .starts_with("<|im_start|>system\nYou are a helpful AI assistant named SmolLM"));
    }

    #[test]
    fn python_methods_and_exceptions_work() {
        let source = "{% if messages[0]['role'] == 'assistant' %}{{ raise_exception('user first') }}{% endif %}\
                      {% for m in messages %}[{{ m['content'].strip() }}]{% endfor %}{{ bos_token }}";
        let template = ChatTemplate::new(source, "<s>", "</s>").unwrap();
        let ok = Prompt {
            messages: vec![Message::new(Role::User, "  padded  ")],
        };
        assert_eq!(template.render(&ok).unwrap(), "[padded]<s>");
        let bad = Prompt {
            messages: vec![Message::new(Role::Assistant, "x")],
        };
        let err = template.render(&bad).unwrap_err().to_string();
        assert!(err.contains("user first"), "{err}");
        assert!(ChatTemplate::new("{% for %}", "", "").is_err());
    }
}
