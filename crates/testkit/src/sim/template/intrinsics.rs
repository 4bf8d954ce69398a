//! The intrinsic functions: `Ref` (parameters, pseudo parameters, the world's ids),
//! `Fn::GetAtt`, `Fn::If`, the condition functions, `Fn::Sub`, `Fn::Join`, `Fn::Select`,
//! `Fn::Split`, `Fn::FindInMap`, `Fn::GetAZs`.

use serde_json::{Map, Value as Json};
use serde_yaml_ng::Value as Yaml;

use super::{Eval, Scope, key, text, untag};

impl Scope<'_> {
    pub(super) fn reference(&self, name: &str) -> Eval {
        match name {
            "AWS::NoValue" => return Ok(None),
            "AWS::Region" => return Ok(Some(self.region.clone().into())),
            "AWS::AccountId" => return Ok(Some(self.account.clone().into())),
            "AWS::StackName" => return Ok(Some(self.stack.clone().into())),
            "AWS::Partition" => return Ok(Some("aws".into())),
            "AWS::URLSuffix" => return Ok(Some("amazonaws.com".into())),
            "AWS::StackId" => {
                return Ok(Some(
                    format!(
                        "arn:aws:cloudformation:{}:{}:stack/{}/sim",
                        self.region, self.account, self.stack
                    )
                    .into(),
                ));
            }
            _ => {}
        }
        if let Some(value) = self.params.get(name) {
            return Ok(Some(value.clone().into()));
        }
        if let Some(value) = self.resolver.get(name) {
            return Ok(Some(value.clone().into()));
        }
        Ok(Some(format!("<Ref {name}>").into()))
    }

    pub(super) fn get_att(&self, logical: &str, attribute: &str) -> Json {
        self.resolver
            .get(&format!("{logical}.{attribute}"))
            .cloned()
            .unwrap_or_else(|| format!("<GetAtt {logical}.{attribute}>"))
            .into()
    }

    pub(super) fn args(
        &self,
        value: &Yaml,
        function: &str,
        count: usize,
    ) -> Result<Vec<Json>, String> {
        let items = untag(value)
            .as_sequence()
            .ok_or_else(|| format!("{function} takes a list"))?;
        if items.len() != count {
            return Err(format!(
                "{function} takes {count} arguments, got {}",
                items.len()
            ));
        }
        items
            .iter()
            .map(|i| self.eval(i).map(|v| v.unwrap_or(Json::Null)))
            .collect()
    }

    pub(super) fn intrinsic(&self, function: &str, arg: &Yaml) -> Eval {
        match function {
            "Ref" => {
                let name = self.eval(arg)?.map(|v| text(&v)).unwrap_or_default();
                self.reference(&name)
            }
            "Condition" => {
                let name = self.eval(arg)?.map(|v| text(&v)).unwrap_or_default();
                Ok(Some(Json::Bool(self.condition(&name)?)))
            }
            "Fn::If" => {
                let items = untag(arg)
                    .as_sequence()
                    .filter(|i| i.len() == 3)
                    .ok_or("Fn::If takes [condition, then, else]")?;
                let condition = self
                    .eval(&items[0])?
                    .map(|v| text(&v))
                    .ok_or("Fn::If without a condition name")?;
                if self.condition(&condition)? {
                    self.eval(&items[1])
                } else {
                    self.eval(&items[2])
                }
            }
            "Fn::Equals" => {
                let args = self.args(arg, function, 2)?;
                Ok(Some(Json::Bool(text(&args[0]) == text(&args[1]))))
            }
            "Fn::Not" => {
                let args = self.args(arg, function, 1)?;
                let value = truth(Some(&args[0])).ok_or("Fn::Not of a non-boolean")?;
                Ok(Some(Json::Bool(!value)))
            }
            "Fn::And" | "Fn::Or" => {
                let items = untag(arg)
                    .as_sequence()
                    .ok_or_else(|| format!("{function} takes a list"))?;
                let mut values = Vec::new();
                for item in items {
                    let value = self.eval(item)?;
                    values.push(
                        truth(value.as_ref())
                            .ok_or_else(|| format!("{function} of a non-boolean"))?,
                    );
                }
                Ok(Some(Json::Bool(if function == "Fn::And" {
                    values.iter().all(|v| *v)
                } else {
                    values.iter().any(|v| *v)
                })))
            }
            "Fn::GetAtt" => {
                let (logical, attribute) = match untag(arg) {
                    Yaml::String(s) => s
                        .split_once('.')
                        .map(|(a, b)| (a.to_owned(), b.to_owned()))
                        .ok_or("Fn::GetAtt needs Logical.Attribute")?,
                    Yaml::Sequence(items) if items.len() == 2 => {
                        let a = self.eval(&items[0])?.map(|v| text(&v)).unwrap_or_default();
                        let b = self.eval(&items[1])?.map(|v| text(&v)).unwrap_or_default();
                        (a, b)
                    }
                    _ => return Err("Fn::GetAtt needs Logical.Attribute".into()),
                };
                Ok(Some(self.get_att(&logical, &attribute)))
            }
            "Fn::Sub" => {
                let (template, vars) = match untag(arg) {
                    Yaml::String(s) => (s.clone(), Map::new()),
                    Yaml::Sequence(items) if items.len() == 2 => {
                        let template = self.eval(&items[0])?.map(|v| text(&v)).unwrap_or_default();
                        let vars = match self.eval(&items[1])? {
                            Some(Json::Object(vars)) => vars,
                            _ => Map::new(),
                        };
                        (template, vars)
                    }
                    _ => return Err("Fn::Sub takes a string or [string, variables]".into()),
                };
                Ok(Some(Json::String(self.substitute(&template, &vars)?)))
            }
            "Fn::Join" => {
                let args = self.args(arg, function, 2)?;
                let separator = text(&args[0]);
                let parts: Vec<String> = args[1]
                    .as_array()
                    .ok_or("Fn::Join joins a list")?
                    .iter()
                    .map(text)
                    .collect();
                Ok(Some(Json::String(parts.join(&separator))))
            }
            "Fn::Split" => {
                let args = self.args(arg, function, 2)?;
                let separator = text(&args[0]);
                Ok(Some(Json::Array(
                    text(&args[1])
                        .split(separator.as_str())
                        .map(|s| Json::String(s.to_owned()))
                        .collect(),
                )))
            }
            "Fn::Select" => {
                let args = self.args(arg, function, 2)?;
                let index: usize = text(&args[0])
                    .parse()
                    .map_err(|_| "Fn::Select needs a number")?;
                Ok(args[1].as_array().and_then(|a| a.get(index)).cloned())
            }
            "Fn::GetAZs" => Ok(Some(Json::Array(
                ["a", "b", "c"]
                    .iter()
                    .map(|z| Json::String(format!("{}{z}", self.region)))
                    .collect(),
            ))),
            "Fn::FindInMap" => {
                let args = self.args(arg, function, 3)?;
                let found = key(&self.template.root, "Mappings")
                    .and_then(|m| key(m, &text(&args[0])))
                    .and_then(|m| key(m, &text(&args[1])))
                    .and_then(|m| key(m, &text(&args[2])))
                    .ok_or("Fn::FindInMap: no such entry")?;
                self.eval(found)
            }
            "Fn::Base64" => self.eval(arg),
            other => Ok(Some(Json::String(format!("<{other}>")))),
        }
    }

    /// `${Name}`, `${Logical.Attr}`, `${AWS::Region}`; `${!Literal}` stays `${Literal}`.
    pub(super) fn substitute(
        &self,
        template: &str,
        vars: &Map<String, Json>,
    ) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("Fn::Sub: unclosed ${{ in {template:?}"))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = vars.get(name) {
                out.push_str(&text(value));
            } else if let Some((logical, attribute)) =
                name.split_once('.').filter(|_| !name.starts_with("AWS::"))
            {
                out.push_str(&text(&self.get_att(logical, attribute)));
            } else {
                out.push_str(&self.reference(name)?.map(|v| text(&v)).unwrap_or_default());
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
}

pub(super) fn truth(value: Option<&Json>) -> Option<bool> {
    match value? {
        Json::Bool(b) => Some(*b),
        Json::String(s) if s == "true" => Some(true),
        Json::String(s) if s == "false" => Some(false),
        _ => None,
    }
}
