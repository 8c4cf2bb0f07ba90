//! `<Pay>`: collects card or bank details over DTMF and sends them to a payment connector,
//! with `<Prompt>` to customize what the caller hears at each step.

use std::time::Duration;

use super::common::{secs, space_separated, status_callback_setters, value_enum};
use super::{GatherChild, Parameter};
use crate::AbsoluteUrl;
use crate::xml::{Element, child_trait, typed_element};

child_trait!(
    /// What may be nested in `<Pay>`: custom `<Prompt>`s and connector `<Parameter>`s.
    PayChild: Prompt, Parameter
);

value_enum!(
    /// How `<Pay>` collects input (`input`; DTMF is the only option).
    PayInput {
        /// `dtmf`
        Dtmf => "dtmf",
    }
);

value_enum!(
    /// The kind of bank account for ACH debits (`bankAccountType`; Twilio's default is
    /// `consumer-checking`).
    BankAccountType {
        /// `consumer-checking`
        ConsumerChecking => "consumer-checking",
        /// `consumer-savings`
        ConsumerSavings => "consumer-savings",
        /// `commercial-checking`
        CommercialChecking => "commercial-checking",
        /// `commercial-savings`
        CommercialSavings => "commercial-savings",
    }
);

value_enum!(
    /// What the caller pays with (`paymentMethod`; Twilio's default is `credit-card`).
    PaymentMethod {
        /// `ach-debit`: a bank account.
        AchDebit => "ach-debit",
        /// `credit-card`
        CreditCard => "credit-card",
    }
);

value_enum!(
    /// The kind of token a tokenize transaction returns (`tokenType`; Twilio's default is
    /// `reusable`).
    TokenType {
        /// `one-time`
        OneTime => "one-time",
        /// `reusable`
        Reusable => "reusable",
        /// `payment-method`
        PaymentMethod => "payment-method",
    }
);

value_enum!(
    /// A card brand (`validCardTypes` on `<Pay>`, `cardType` on `<Prompt>`).
    CardType {
        /// `visa`
        Visa => "visa",
        /// `mastercard`
        Mastercard => "mastercard",
        /// `amex`
        Amex => "amex",
        /// `maestro`
        Maestro => "maestro",
        /// `discover`
        Discover => "discover",
        /// `optima`
        Optima => "optima",
        /// `jcb`
        Jcb => "jcb",
        /// `diners-club`
        DinersClub => "diners-club",
        /// `enroute`
        Enroute => "enroute",
    }
);

/// `<Pay>`: collects payment details and charges or tokenizes them through a Pay Connector.
///
/// The outcome goes to [`action`](Pay::action) and/or
/// [`status_callback`](Pay::status_callback); the caller can press `*` to abandon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pay(Element);
typed_element!(Pay);

impl Default for Pay {
    fn default() -> Self {
        Self::new()
    }
}

impl Pay {
    /// A payment with Twilio's defaults (tokenize a credit card with the default connector).
    pub fn new() -> Self {
        Self(Element::typed("Pay"))
    }

    /// Nests a `<Prompt>` or a connector `<Parameter>`.
    #[must_use]
    pub fn add(mut self, child: impl PayChild) -> Self {
        self.0.push(child);
        self
    }

    /// How input is collected.
    #[must_use]
    pub fn input(mut self, input: PayInput) -> Self {
        self.0.set("input", input.as_str());
        self
    }

    /// Where Twilio posts the transaction result; its TwiML continues the call.
    #[must_use]
    pub fn action(mut self, url: AbsoluteUrl) -> Self {
        self.0.set("action", url.into_string());
        self
    }

    /// The kind of bank account (with [`PaymentMethod::AchDebit`]).
    #[must_use]
    pub fn bank_account_type(mut self, kind: BankAccountType) -> Self {
        self.0.set("bankAccountType", kind.as_str());
        self
    }

    status_callback_setters!(
        /// Where Twilio reports progress while the caller enters details.
        status_callback,
    );

    /// How long to wait for each input, in whole seconds (Twilio's default is 5).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.0.set("timeout", secs(timeout));
        self
    }

    /// How many attempts the caller gets for each input (Twilio's default is 1).
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.0.set("maxAttempts", attempts.to_string());
        self
    }

    /// Whether to ask for the card security code (default `true`).
    #[must_use]
    pub fn security_code(mut self, ask: bool) -> Self {
        self.0.set("securityCode", ask.to_string());
        self
    }

    /// Whether to ask for the postal code (default `true`).
    #[must_use]
    pub fn postal_code(mut self, ask: bool) -> Self {
        self.0.set("postalCode", ask.to_string());
        self
    }

    /// Uses this postal code instead of asking the caller for one.
    #[must_use]
    pub fn known_postal_code(mut self, postal_code: impl Into<String>) -> Self {
        self.0.set("postalCode", postal_code);
        self
    }

    /// The fewest digits accepted as a postal code.
    #[must_use]
    pub fn min_postal_code_length(mut self, length: u32) -> Self {
        self.0.set("minPostalCodeLength", length.to_string());
        self
    }

    /// The Pay Connector's unique name (Twilio's default is `Default`).
    #[must_use]
    pub fn payment_connector(mut self, connector: impl Into<String>) -> Self {
        self.0.set("paymentConnector", connector);
        self
    }

    /// What the caller pays with.
    #[must_use]
    pub fn payment_method(mut self, method: PaymentMethod) -> Self {
        self.0.set("paymentMethod", method.as_str());
        self
    }

    /// The kind of token to create when tokenizing.
    #[must_use]
    pub fn token_type(mut self, kind: TokenType) -> Self {
        self.0.set("tokenType", kind.as_str());
        self
    }

    /// The amount to charge, as a decimal (`"10.00"`); absent or `0` tokenizes instead.
    #[must_use]
    pub fn charge_amount(mut self, amount: impl Into<String>) -> Self {
        self.0.set("chargeAmount", amount);
        self
    }

    /// The currency of `chargeAmount`, as an ISO 4217 code (Twilio's default is `usd`).
    #[must_use]
    pub fn currency(mut self, currency: impl Into<String>) -> Self {
        self.0.set("currency", currency);
        self
    }

    /// A description passed to the payment processor.
    #[must_use]
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.0.set("description", description);
        self
    }

    /// The card brands accepted.
    #[must_use]
    pub fn valid_card_types(mut self, types: impl IntoIterator<Item = CardType>) -> Self {
        self.0.set(
            "validCardTypes",
            space_separated(types.into_iter().map(CardType::as_str)),
        );
        self
    }

    /// The language of Twilio's built-in prompts, such as `en-US`.
    #[must_use]
    pub fn language(mut self, language: impl Into<String>) -> Self {
        self.0.set("language", language);
        self
    }
}

value_enum!(
    /// Which step of `<Pay>` a `<Prompt>` replaces (`for`).
    PromptFor {
        /// `payment-card-number`
        PaymentCardNumber => "payment-card-number",
        /// `expiration-date`
        ExpirationDate => "expiration-date",
        /// `security-code`
        SecurityCode => "security-code",
        /// `postal-code`
        PostalCode => "postal-code",
        /// `payment-processing`: played while the payment is processed.
        PaymentProcessing => "payment-processing",
        /// `bank-account-number`
        BankAccountNumber => "bank-account-number",
        /// `bank-routing-number`
        BankRoutingNumber => "bank-routing-number",
    }
);

value_enum!(
    /// The failure after which a `<Prompt>` is played (`errorType`).
    PromptErrorType {
        /// `timeout`
        Timeout => "timeout",
        /// `invalid-card-number`
        InvalidCardNumber => "invalid-card-number",
        /// `invalid-card-type`
        InvalidCardType => "invalid-card-type",
        /// `invalid-date`
        InvalidDate => "invalid-date",
        /// `invalid-security-code`
        InvalidSecurityCode => "invalid-security-code",
        /// `internal-error`
        InternalError => "internal-error",
        /// `input-matching-failed`: the two entries of a confirmed input differ.
        InputMatchingFailed => "input-matching-failed",
    }
);

/// `<Prompt>`: what the caller hears at one step of `<Pay>` instead of Twilio's default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt(Element);
typed_element!(Prompt);

impl Prompt {
    /// A prompt for the step `step`; nest the `<Say>`, `<Play>` or `<Pause>` to play.
    pub fn new(step: PromptFor) -> Self {
        let mut element = Element::typed("Prompt");
        element.set("for", step.as_str());
        Self(element)
    }

    /// Nests what is played (`<Say>`, `<Play>` or `<Pause>`).
    #[must_use]
    pub fn add(mut self, child: impl GatherChild) -> Self {
        self.0.push(child);
        self
    }

    /// Plays this prompt only after these failures.
    #[must_use]
    pub fn error_type(mut self, errors: impl IntoIterator<Item = PromptErrorType>) -> Self {
        self.0.set(
            "errorType",
            space_separated(errors.into_iter().map(PromptErrorType::as_str)),
        );
        self
    }

    /// Plays this prompt only for these card brands.
    #[must_use]
    pub fn card_type(mut self, types: impl IntoIterator<Item = CardType>) -> Self {
        self.0.set(
            "cardType",
            space_separated(types.into_iter().map(CardType::as_str)),
        );
        self
    }

    /// Plays this prompt only on these attempts (1 is the first).
    #[must_use]
    pub fn attempt(mut self, attempts: impl IntoIterator<Item = u32>) -> Self {
        self.0.set(
            "attempt",
            space_separated(attempts.into_iter().map(|a| a.to_string())),
        );
        self
    }

    /// Whether the caller must enter this input twice, matching.
    #[must_use]
    pub fn require_matching_inputs(mut self, require: bool) -> Self {
        self.0.set("requireMatchingInputs", require.to_string());
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::voice::common::test_support::{render, url};
    use crate::voice::{Method, Pause, Play, Say};

    #[test]
    fn pay_attributes_are_typed() {
        let pay = Pay::new()
            .input(PayInput::Dtmf)
            .action(url("https://example.com/paid"))
            .bank_account_type(BankAccountType::CommercialSavings)
            .status_callback(url("https://example.com/pay-status"))
            .status_callback_method(Method::Get)
            .timeout(Duration::from_secs(10))
            .max_attempts(3)
            .security_code(false)
            .postal_code(false)
            .min_postal_code_length(5)
            .payment_connector("Stripe_Connector")
            .payment_method(PaymentMethod::AchDebit)
            .token_type(TokenType::OneTime)
            .charge_amount("10.00")
            .currency("usd")
            .description("Order & more")
            .valid_card_types([CardType::Visa, CardType::DinersClub])
            .language("en-US")
            .add(Parameter::new("custom", "1"));
        assert_eq!(
            render(pay),
            concat!(
                r#"<Pay action="https://example.com/paid" bankAccountType="commercial-savings" "#,
                r#"chargeAmount="10.00" currency="usd" description="Order &amp; more" "#,
                r#"input="dtmf" language="en-US" maxAttempts="3" minPostalCodeLength="5" "#,
                r#"paymentConnector="Stripe_Connector" paymentMethod="ach-debit" "#,
                r#"postalCode="false" securityCode="false" "#,
                r#"statusCallback="https://example.com/pay-status" statusCallbackMethod="GET" "#,
                r#"timeout="10" tokenType="one-time" validCardTypes="visa diners-club">"#,
                r#"<Parameter name="custom" value="1" /></Pay>"#,
            )
        );
        assert_eq!(
            render(Pay::new().known_postal_code("94105")),
            r#"<Pay postalCode="94105" />"#
        );
    }

    #[test]
    fn prompts_nest_say_play_and_pause() {
        let prompt = Prompt::new(PromptFor::PaymentCardNumber)
            .error_type([PromptErrorType::Timeout, PromptErrorType::InvalidCardNumber])
            .card_type([CardType::Amex])
            .attempt([1, 2])
            .require_matching_inputs(true)
            .add(Say::new("Please enter your card number."))
            .add(Pause::new())
            .add(Play::new(url("https://example.com/beep.mp3")));
        assert_eq!(
            render(Pay::new().add(prompt)),
            concat!(
                r#"<Pay><Prompt attempt="1 2" cardType="amex" "#,
                r#"errorType="timeout invalid-card-number" for="payment-card-number" "#,
                r#"requireMatchingInputs="true"><Say>Please enter your card number.</Say>"#,
                "<Pause /><Play>https://example.com/beep.mp3</Play></Prompt></Pay>",
            )
        );
    }
}
