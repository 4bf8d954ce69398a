//! `infra/template.yaml` itself, read and evaluated the way CloudFormation would for one set of
//! parameter values, so the scenarios prove the real template rather than a copy of it.
//!
//! serde_yaml_ng keeps the short intrinsic tags (`!Ref`, `!If`, `!Sub`…) as tagged values; the
//! long forms (`{"Fn::If": …}`) are mappings. Both are evaluated here: `Ref` (parameters, pseudo
//! parameters, `AWS::NoValue`), `Fn::If`, `Fn::Equals`, `Fn::Not`, `Fn::And`, `Fn::Or`,
//! `Condition`, `Fn::Sub`, `Fn::Join`, `Fn::Select`, `Fn::Split`, `Fn::GetAtt`, `Fn::FindInMap`,
//! `Fn::GetAZs`. A `Ref`/`GetAtt` of a *resource* resolves through a [`Resolver`] (the simulated
//! world's physical ids); one the world does not know becomes a visible placeholder
//! (`<Ref Name>`, `<GetAtt Name.Attr>`) so that nothing silently matches.
//!
//! Sources: CloudFormation intrinsic function reference
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/intrinsic-function-reference.html>);
//! `AWS::NoValue` removes the property it is the value of, also inside lists
//! (<https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/pseudo-parameter-reference.html>);
//! SAM `Globals` apply to every `AWS::Serverless::Function` that does not set the property itself
//! (<https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-specification-template-anatomy-globals.html>).

mod intrinsics;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

use super::SimError;
use intrinsics::truth;

/// Physical ids of the simulated world's resources: `"Logical"` for `Ref`, `"Logical.Attr"` for
/// `Fn::GetAtt`.
pub type Resolver = BTreeMap<String, String>;

/// The template, parsed.
#[derive(Debug, Clone)]
pub struct Template {
    root: Yaml,
    source: PathBuf,
}

fn untag(value: &Yaml) -> &Yaml {
    match value {
        Yaml::Tagged(tagged) => &tagged.value,
        other => other,
    }
}

fn key<'a>(value: &'a Yaml, name: &str) -> Option<&'a Yaml> {
    untag(value).as_mapping()?.get(name)
}

impl Template {
    /// Reads and parses a template file.
    pub fn load(path: &Path) -> Result<Template, SimError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| SimError::Template(format!("{}: {e}", path.display())))?;
        Template::parse(&text, path)
    }

    /// `infra/template.yaml` of this repository.
    pub fn from_repo() -> Result<Template, SimError> {
        Template::load(&crate::emulator::repo_root().join("infra/template.yaml"))
    }

    /// Parses template text (`source` names it in errors).
    pub fn parse(text: &str, source: &Path) -> Result<Template, SimError> {
        let root: Yaml = serde_yaml_ng::from_str(text)
            .map_err(|e| SimError::Template(format!("{} is not YAML: {e}", source.display())))?;
        if key(&root, "Resources").is_none() {
            return Err(SimError::Template(format!(
                "{} has no Resources section",
                source.display()
            )));
        }
        Ok(Template {
            root,
            source: source.to_owned(),
        })
    }

    pub fn source(&self) -> &Path {
        &self.source
    }

    /// Every parameter's default (parameters without one are absent).
    pub fn parameter_defaults(&self) -> BTreeMap<String, String> {
        let mut defaults = BTreeMap::new();
        let Some(params) = key(&self.root, "Parameters").and_then(|p| untag(p).as_mapping()) else {
            return defaults;
        };
        for (name, spec) in params {
            if let (Some(name), Some(default)) = (name.as_str(), key(spec, "Default")) {
                defaults.insert(name.to_owned(), scalar_text(untag(default)));
            }
        }
        defaults
    }

    /// Whether the template declares this parameter.
    pub fn has_parameter(&self, name: &str) -> bool {
        key(&self.root, "Parameters")
            .and_then(|p| key(p, name))
            .is_some()
    }

    /// Logical ids and definitions of every resource, in template order.
    pub fn resources(&self) -> Vec<(String, &Yaml)> {
        key(&self.root, "Resources")
            .and_then(|r| untag(r).as_mapping())
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| k.as_str().map(|k| (k.to_owned(), v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// One resource's definition.
    pub fn resource(&self, logical: &str) -> Option<&Yaml> {
        key(&self.root, "Resources").and_then(|r| key(r, logical))
    }

    /// A resource's `Type`.
    pub fn resource_type(&self, logical: &str) -> Option<&str> {
        self.resource(logical)
            .and_then(|r| key(r, "Type"))
            .and_then(|t| untag(t).as_str())
    }

    /// Logical ids of the resources of one type.
    pub fn resources_of_type(&self, resource_type: &str) -> Vec<String> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| key(r, "Type").and_then(|t| untag(t).as_str()) == Some(resource_type))
            .map(|(id, _)| id)
            .collect()
    }

    /// An evaluation scope: parameter values (defaults, then `overrides`) and the world's ids.
    pub fn scope<'a>(
        &'a self,
        overrides: &BTreeMap<String, String>,
        resolver: &'a Resolver,
    ) -> Scope<'a> {
        let mut params = self.parameter_defaults();
        params.extend(overrides.iter().map(|(k, v)| (k.clone(), v.clone())));
        Scope {
            template: self,
            params,
            resolver,
            region: resolver
                .get("AWS::Region")
                .cloned()
                .unwrap_or_else(|| crate::emulator::REGION.to_owned()),
            account: resolver
                .get("AWS::AccountId")
                .cloned()
                .unwrap_or_else(|| "123456789012".to_owned()),
            stack: resolver
                .get("AWS::StackName")
                .cloned()
                .unwrap_or_else(|| "phoenix-ops".to_owned()),
        }
    }
}

/// A YAML scalar as CloudFormation text (parameters are strings).
fn scalar_text(value: &Yaml) -> String {
    match value {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Null => String::new(),
        other => serde_json::to_string(&yaml_to_json_plain(other)).unwrap_or_default(),
    }
}

fn yaml_to_json_plain(value: &Yaml) -> Json {
    serde_json::to_value(value).unwrap_or(Json::Null)
}

/// A JSON value as CloudFormation text (for `Fn::Equals`, `Fn::Sub`, `Fn::Join`).
pub fn text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        Json::Number(n) => n.to_string(),
        Json::Bool(b) => b.to_string(),
        Json::Null => String::new(),
        other => other.to_string(),
    }
}

/// Parameter values plus the world's ids: evaluates template expressions.
#[derive(Debug, Clone)]
pub struct Scope<'a> {
    pub template: &'a Template,
    params: BTreeMap<String, String>,
    resolver: &'a Resolver,
    region: String,
    account: String,
    stack: String,
}

type Eval = Result<Option<Json>, String>;

impl Scope<'_> {
    /// A parameter's value (default or override).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    /// The parameter values in use.
    pub fn params(&self) -> &BTreeMap<String, String> {
        &self.params
    }

    /// Evaluates a named condition of the `Conditions` section.
    pub fn condition(&self, name: &str) -> Result<bool, String> {
        let definition = key(&self.template.root, "Conditions")
            .and_then(|c| key(c, name))
            .ok_or_else(|| format!("condition {name} is not defined"))?;
        let value = self.eval(definition)?;
        truth(value.as_ref()).ok_or_else(|| format!("condition {name} is not a boolean"))
    }

    /// Whether a resource exists with these parameters (its `Condition`, if any, holds).
    pub fn exists(&self, logical: &str) -> Result<bool, String> {
        let resource = self
            .template
            .resource(logical)
            .ok_or_else(|| format!("resource {logical} is not in the template"))?;
        match key(resource, "Condition").map(untag).and_then(Yaml::as_str) {
            Some(condition) => self.condition(condition),
            None => Ok(true),
        }
    }

    /// A resource property, evaluated (`None`: not set, or `AWS::NoValue`). SAM `Globals` fill a
    /// serverless function's properties it does not set itself.
    pub fn property(&self, logical: &str, name: &str) -> Eval {
        let resource = self
            .template
            .resource(logical)
            .ok_or_else(|| format!("resource {logical} is not in the template"))?;
        let own = key(resource, "Properties").and_then(|p| key(p, name));
        let value = match own {
            Some(value) => Some(value),
            None if self.template.resource_type(logical) == Some("AWS::Serverless::Function") => {
                key(&self.template.root, "Globals")
                    .and_then(|g| key(g, "Function"))
                    .and_then(|f| key(f, name))
            }
            None => None,
        };
        match value {
            Some(value) => self.eval(value),
            None => Ok(None),
        }
    }

    /// A resource's whole `Properties` mapping, evaluated.
    pub fn properties(&self, logical: &str) -> Result<Json, String> {
        let resource = self
            .template
            .resource(logical)
            .ok_or_else(|| format!("resource {logical} is not in the template"))?;
        match key(resource, "Properties") {
            Some(p) => Ok(self.eval(p)?.unwrap_or(Json::Null)),
            None => Ok(Json::Null),
        }
    }

    /// Evaluates any template value (`None`: `AWS::NoValue`).
    pub fn eval(&self, value: &Yaml) -> Eval {
        match value {
            Yaml::Tagged(tagged) => {
                let tag = tagged.tag.to_string();
                let name = tag.trim_start_matches('!');
                let function = if name == "Ref" || name == "Condition" {
                    name.to_owned()
                } else {
                    format!("Fn::{name}")
                };
                self.intrinsic(&function, &tagged.value)
            }
            Yaml::Mapping(mapping) => {
                if mapping.len() == 1
                    && let Some((k, v)) = mapping.iter().next()
                    && let Some(k) = k.as_str()
                    && (k == "Ref" || k.starts_with("Fn::") || (k == "Condition" && v.is_string()))
                {
                    return self.intrinsic(k, v);
                }
                let mut out = Map::new();
                for (k, v) in mapping {
                    let k = scalar_text(untag(k));
                    if let Some(v) = self.eval(v)? {
                        out.insert(k, v);
                    }
                }
                Ok(Some(Json::Object(out)))
            }
            Yaml::Sequence(items) => {
                let mut out = Vec::new();
                for item in items {
                    if let Some(v) = self.eval(item)? {
                        out.push(v);
                    }
                }
                Ok(Some(Json::Array(out)))
            }
            other => Ok(Some(yaml_to_json_plain(other))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEMPLATE: &str = r#"
Parameters:
  AppImageTag: { Type: String, Default: "" }
  AppDesiredCount: { Type: Number, Default: 2 }
Conditions:
  HasImage: !Not [!Equals [!Ref AppImageTag, ""]]
Globals:
  Function:
    Timeout: 60
Resources:
  Service:
    Type: AWS::ECS::Service
    Properties:
      DesiredCount: !If [HasImage, !Ref AppDesiredCount, 0]
      Name: !Sub "${AWS::StackName}-svc-${Cluster.Arn}"
      Omitted: !If [HasImage, !Ref AWS::NoValue, 1]
      List: [a, !Ref AWS::NoValue, { "Fn::Join": ["-", [x, y]] }]
  Fn:
    Type: AWS::Serverless::Function
    Condition: HasImage
    Properties:
      MemorySize: 128
"#;

    fn template() -> Template {
        Template::parse(TEMPLATE, Path::new("test.yaml")).expect("valid template")
    }

    #[test]
    fn conditions_parameters_and_no_value_evaluate_like_cloudformation() {
        let template = template();
        let resolver: Resolver = [("Cluster.Arn".to_owned(), "arn:c".to_owned())].into();
        let empty = template.scope(&BTreeMap::new(), &resolver);
        assert_eq!(
            empty.property("Service", "DesiredCount").expect("eval"),
            Some(Json::from(0))
        );
        assert_eq!(
            empty.property("Service", "Omitted").expect("eval"),
            Some(Json::from(1))
        );
        assert!(!empty.exists("Fn").expect("condition"));
        let with_image: BTreeMap<String, String> = [("AppImageTag".into(), "1.0".into())].into();
        let image = template.scope(&with_image, &resolver);
        assert_eq!(
            image.property("Service", "DesiredCount").expect("eval"),
            Some(Json::from("2"))
        );
        assert_eq!(image.property("Service", "Omitted").expect("eval"), None);
        assert_eq!(
            image.property("Service", "Name").expect("eval"),
            Some(Json::from("phoenix-ops-svc-arn:c"))
        );
        assert_eq!(
            image.property("Service", "List").expect("eval"),
            Some(serde_json::json!(["a", "x-y"]))
        );
        assert_eq!(
            image.property("Fn", "Timeout").expect("globals"),
            Some(Json::from(60))
        );
        assert!(image.exists("Fn").expect("condition"));
    }

    #[test]
    fn unknown_resources_become_visible_placeholders() {
        let template = template();
        let resolver = Resolver::new();
        let scope = template.scope(&BTreeMap::new(), &resolver);
        assert_eq!(
            scope.property("Service", "Name").expect("eval"),
            Some(Json::from("phoenix-ops-svc-<GetAtt Cluster.Arn>"))
        );
        assert!(scope.condition("Missing").is_err());
    }

    #[test]
    fn the_repository_template_parses_and_names_its_service() {
        let template = Template::from_repo().expect("infra/template.yaml parses");
        assert!(template.resource_type("Service") == Some("AWS::ECS::Service"));
        let resolver = Resolver::new();
        let scope = template.scope(&BTreeMap::new(), &resolver);
        // With no image the service is created parked at 0, before and after issue 14's fix.
        assert_eq!(
            scope
                .property("Service", "DesiredCount")
                .expect("eval")
                .map(|v| text(&v)),
            Some("0".to_owned())
        );
    }
}
