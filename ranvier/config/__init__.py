"""Configuration: typed, frozen sections loaded from a Dendrite-compatible YAML file.

``schema`` holds the dataclasses (one per YAML section); ``loader`` turns a YAML file
into a :class:`Config`, collecting every problem (with its key path) before raising
one :class:`ConfigError`; ``values`` parses the value syntaxes (Go durations, sizes,
listen addresses); ``template`` renders the commented file ``ranvier generate-config``
prints; ``keyfile`` reads signing keys in either Dendrite's or Synapse's format.
"""

from ranvier.config.loader import ConfigError, load_config, parse_config, parse_config_text
from ranvier.config.schema import BindAddress, Config, DatabaseConfig, GlobalConfig

__all__ = [
    "BindAddress",
    "Config",
    "ConfigError",
    "DatabaseConfig",
    "GlobalConfig",
    "load_config",
    "parse_config",
    "parse_config_text",
]
