use super::*;

const MINIMAL: &str = r#"
businesses:
  - { id: "1", name: Acme }
wabas:
  - id: "10"
    name: src
    business: "1"
    phone_numbers:
      - { id: "100", display_phone_number: "+1 631-555-0101", verified_name: Acme }
tokens:
  - { token: tok, read: ["10"] }
"#;

#[test]
fn minimal_world_gets_documented_defaults() {
    let world = World::from_yaml_str(MINIMAL).expect("valid");
    assert_eq!(world.options.page_size, 25);
    assert_eq!(world.options.code_lifetime, Duration::from_secs(600));
    assert_eq!(world.options.verify_attempts, 5);
    assert_eq!(world.options.rate_limit.calls_per_hour, 200);
    assert_eq!(world.options.rate_limit.calls_per_hour_active, 5000);
    let waba = &world.wabas[0];
    assert_eq!(waba.template_limit, 250);
    assert_eq!(waba.country, "US");
    assert_eq!(waba.account_review_status, ReviewStatus::Approved);
    let number = &waba.phone_numbers[0];
    assert_eq!(number.name_status, NameStatus::Approved);
    assert_eq!(number.platform_type, PlatformType::CloudApi);
    assert!(!number.is_pin_enabled);
    assert_eq!(world.tokens[0].scopes.len(), 2);
}

#[test]
fn unknown_keys_are_errors_with_a_position() {
    let text = MINIMAL.replace("name: src", "name: src\n    colour: blue");
    let error = World::from_yaml_str(&text).unwrap_err();
    match error {
        SandboxError::WorldSyntax { line, column, message, .. } => {
            assert!(message.contains("colour"), "{message}");
            assert_eq!(line, Some(7));
            assert!(column.is_some());
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn unknown_enum_values_list_the_accepted_ones() {
    let text = MINIMAL.replace("verified_name: Acme }", "verified_name: Acme, name_status: OK }");
    let message = World::from_yaml_str(&text).unwrap_err().to_string();
    assert!(message.contains("PENDING_REVIEW"), "{message}");
}

#[test]
fn semantic_problems_name_the_key() {
    let text = r#"
businesses: [{ id: "1", name: Acme }]
wabas:
  - id: "10"
    name: a
    business: "2"
    phone_numbers:
      - { id: "100", display_phone_number: "+1 631-555-0101", verified_name: A }
  - id: "10"
    name: b
    business: "1"
    country: usa
    phone_numbers:
      - { id: "101", display_phone_number: "16315550101", verified_name: B }
tokens:
  - { token: t, read: ["99"] }
  - { token: t }
options: { page_size: 0, faults: { error_rate: 2 } }
"#;
    let SandboxError::WorldInvalid { problems, .. } = World::from_yaml_str(text).unwrap_err() else {
        panic!("expected semantic problems")
    };
    let all = problems.join("\n");
    assert!(all.contains("wabas[0] (a).business"), "{all}");
    assert!(all.contains("wabas[1] (b).country: \"usa\" must be a two-letter"), "{all}");
    assert!(all.contains("id 10 is already used"), "{all}");
    assert!(all.contains("+16315550101 is already listed"), "{all}");
    assert!(all.contains("tokens[0].read: no WABA with id \"99\""), "{all}");
    assert!(all.contains("same token is defined twice"), "{all}");
    assert!(all.contains("options.page_size"), "{all}");
    assert!(all.contains("options.faults.error_rate"), "{all}");
}

#[test]
fn refused_fields_must_be_waba_fields_refused_with_200_or_10() {
    let text = MINIMAL.replace(
        "read: [\"10\"] }",
        "read: [\"10\"], refused_fields: [primary_funding_id, colour], refused_field_code: 190 }",
    );
    let SandboxError::WorldInvalid { problems, .. } = World::from_yaml_str(&text).unwrap_err() else {
        panic!("expected semantic problems")
    };
    let all = problems.join("\n");
    assert!(all.contains("tokens[0].refused_fields: \"colour\" is not a WABA field"), "{all}");
    assert!(all.contains("tokens[0].refused_field_code: 190"), "{all}");
    assert!(!all.contains("\"primary_funding_id\""), "{all}");
    let fine = MINIMAL.replace("read: [\"10\"] }", "read: [\"10\"], refused_fields: [owner_business_info] }");
    assert_eq!(World::from_yaml_str(&fine).unwrap().tokens[0].refused_field_code, 200);
}

#[test]
fn on_behalf_of_business_must_exist_and_agree_with_the_ownership_type() {
    let text = MINIMAL.replace(
        "business: \"1\"\n",
        "business: \"1\"\n    on_behalf_of_business: \"7\"\n    ownership_type: SELF\n",
    );
    let SandboxError::WorldInvalid { problems, .. } = World::from_yaml_str(&text).unwrap_err() else {
        panic!("expected semantic problems")
    };
    let all = problems.join("\n");
    assert!(all.contains("wabas[0] (src).on_behalf_of_business: no business with id \"7\""), "{all}");
    assert!(all.contains("wabas[0] (src).ownership_type"), "{all}");
}

#[test]
fn refusals_are_definite_4xx_answers() {
    let text = format!(
        "{MINIMAL}options:\n  faults:\n    refuse:\n      - {{ operation: register, code: 200000 }}\n      - {{ operation: verify_code, code: 1, status: 503, times: 0 }}\n"
    );
    let SandboxError::WorldInvalid { problems, .. } = World::from_yaml_str(&text).unwrap_err() else {
        panic!("expected semantic problems")
    };
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].starts_with("options.faults.refuse[1]: status 503"), "{problems:?}");
    let fine = text.replace(", status: 503, times: 0", ", times: 2");
    let world = World::from_yaml_str(&fine).unwrap();
    assert_eq!(world.options.faults.refuse[0].status, 400);
    assert_eq!(world.options.faults.refuse[1].times, Some(2));
}

#[test]
fn token_values_never_appear_in_debug_output() {
    let world = World::from_yaml_str(MINIMAL).unwrap();
    assert!(!format!("{world:?}").contains("tok\""));
}

#[test]
fn the_example_world_is_valid() {
    if let Err(error) = World::from_yaml_str(super::super::EXAMPLE_WORLD) {
        panic!("{error}");
    }
}
