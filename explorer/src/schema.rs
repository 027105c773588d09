//! The protobuf schema of the ledger's messages as JSON, for the browser's
//! transaction decoder (`assets/protobuf.js`).
//!
//! It is derived from the same compiled descriptors the node serves for
//! gRPC reflection (`pledge_proto::FILE_DESCRIPTOR_SET`), so a field added
//! to `transaction.proto` reaches the verifier without anyone writing a
//! second description of it:
//!
//! ```json
//! { "messages": { "pledgeledger.v1.Transaction": {
//!       "1":  { "name": "ledger_id", "type": "string" },
//!       "10": { "name": "genesis", "type": "message",
//!               "message": "pledgeledger.v1.Genesis", "oneof": "operation" }, … } },
//!   "enums": { "pledgeledger.v1.Role": { "1": "ROLE_ADMIN", … } } }
//! ```

use prost::Message as _;
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FileDescriptorSet};
use serde_json::{Map, Value, json};

/// The schema JSON, or why the descriptors do not decode.
pub fn schema_json() -> Result<String, prost::DecodeError> {
    let set = FileDescriptorSet::decode(pledge_proto::FILE_DESCRIPTOR_SET)?;
    let mut messages = Map::new();
    let mut enums = Map::new();
    for file in &set.file {
        let package = file.package();
        for message in &file.message_type {
            add_message(package, message, &mut messages, &mut enums);
        }
        for e in &file.enum_type {
            enums.insert(format!("{package}.{}", e.name()), enum_values(e));
        }
    }
    Ok(json!({ "messages": messages, "enums": enums }).to_string())
}

fn add_message(
    scope: &str,
    message: &DescriptorProto,
    messages: &mut Map<String, Value>,
    enums: &mut Map<String, Value>,
) {
    let name = format!("{scope}.{}", message.name());
    let mut fields = Map::new();
    for field in &message.field {
        let mut entry = json!({ "name": field.name(), "type": type_name(field.r#type()) });
        if field.label() == Label::Repeated {
            entry["repeated"] = Value::Bool(true);
        }
        if matches!(field.r#type(), Type::Message | Type::Enum) {
            let key = if field.r#type() == Type::Message {
                "message"
            } else {
                "enum"
            };
            entry[key] = Value::String(field.type_name().trim_start_matches('.').to_owned());
        }
        let oneof = field
            .oneof_index
            .filter(|_| !field.proto3_optional())
            .and_then(|i| message.oneof_decl.get(usize::try_from(i).ok()?));
        if let Some(oneof) = oneof {
            entry["oneof"] = Value::String(oneof.name().to_owned());
        }
        fields.insert(field.number().to_string(), entry);
    }
    messages.insert(name.clone(), Value::Object(fields));
    for nested in &message.nested_type {
        add_message(&name, nested, messages, enums);
    }
    for e in &message.enum_type {
        enums.insert(format!("{name}.{}", e.name()), enum_values(e));
    }
}

fn enum_values(e: &prost_types::EnumDescriptorProto) -> Value {
    let values: Map<String, Value> = e
        .value
        .iter()
        .map(|v| (v.number().to_string(), Value::String(v.name().to_owned())))
        .collect();
    Value::Object(values)
}

fn type_name(field_type: Type) -> &'static str {
    match field_type {
        Type::Double => "double",
        Type::Float => "float",
        Type::Int64 => "int64",
        Type::Uint64 => "uint64",
        Type::Int32 => "int32",
        Type::Fixed64 => "fixed64",
        Type::Fixed32 => "fixed32",
        Type::Bool => "bool",
        Type::String => "string",
        Type::Group => "group",
        Type::Message => "message",
        Type::Bytes => "bytes",
        Type::Uint32 => "uint32",
        Type::Enum => "enum",
        Type::Sfixed32 => "sfixed32",
        Type::Sfixed64 => "sfixed64",
        Type::Sint32 => "sint32",
        Type::Sint64 => "sint64",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_transaction_and_its_operations_are_described() {
        let schema: Value = serde_json::from_str(&schema_json().unwrap()).unwrap();
        let tx = &schema["messages"]["pledgeledger.v1.Transaction"];
        assert_eq!(tx["1"]["name"], "ledger_id");
        assert_eq!(tx["4"]["name"], "not_before_ms");
        assert_eq!(tx["4"]["type"], "uint64");
        let pledge = tx
            .as_object()
            .unwrap()
            .values()
            .find(|f| f["name"] == "register_pledge")
            .unwrap();
        assert_eq!(pledge["message"], "pledgeledger.v1.RegisterPledge");
        assert_eq!(pledge["oneof"], "operation");
        let split = &schema["messages"]["pledgeledger.v1.SplitReceipt"];
        assert_eq!(split["2"]["repeated"], true);
        assert_eq!(schema["enums"]["pledgeledger.v1.Role"]["4"], "ROLE_BANK");
    }
}
