//! OpenAPI 3.0/3.1: loading (YAML 1.2 / JSON, `$ref`), routing requests to operations,
//! checking requests and responses against the contract, coverage, and inferring endpoint
//! templates for traffic the spec does not document.

pub mod infer;
