"""models.py - the OpenStack services' own published request models, loaded
from Debian's packages of the services (see README.md for the versions):

  - Keystone: keystone.auth.schema.validate_issue_token_auth (python3-keystone)
  - Nova:     nova.api.openstack.compute.schemas.* validated with Nova's own
              nova.api.validation.validators._SchemaValidator (python3-nova),
              the schema each controller method binds for microversion 2.1
              (copied from the @validation decorators of
              nova/api/openstack/compute/{servers,keypairs,flavors,limits,
              server_metadata}.py: see NOVA_BODY / NOVA_QUERY below)
  - Neutron:  RESOURCE_ATTRIBUTE_MAP of neutron_lib.api.definitions.{network,
              subnet,l3} (python3-neutron-lib) and of neutron.extensions.
              securitygroup / tagging (python3-neutron), checked with
              neutron_lib.api.validators and the maps' convert_to functions
  - Glance:   glance.api.v2.images.RequestDeserializer.index (python3-glance)

Only the schema modules are imported: no service configuration is read and
no service starts.  When a package is missing, load() returns None with the
name of what is missing.
"""
import io
import os
import sys

# nova.api.openstack monkey-patches the process with eventlet at import
# unless told not to (nova/monkey_patch.py: the switch for "non-nova
# utilities"); green threads would stall the double's threading server
os.environ["OS_NOVA_DISABLE_EVENTLET_PATCHING"] = "1"


def load():
    """Import the models; returns (models, None) or (None, what is missing)."""
    stderr, sys.stderr = sys.stderr, io.StringIO()  # import-time warnings
    try:
        return _load(), None
    except ImportError as e:
        return None, "%s (%s)" % (e.name or "a model", e)
    finally:
        sys.stderr = stderr


class Models:
    pass


def _load():
    m = Models()
    # glance first: its module-level policy setup fails once another
    # service has registered options on oslo.config's global CONF
    from glance.api.v2 import images as glance_images
    import webob
    m.glance_index = glance_images.RequestDeserializer().index
    m.webob = webob
    from oslo_config import cfg
    cfg.CONF = cfg.ConfigOpts()
    from keystone.auth import schema as ks_schema
    m.keystone_validate = ks_schema.validate_issue_token_auth
    cfg.CONF = cfg.ConfigOpts()
    from nova.api.validation import validators as nova_validators
    from nova.api.openstack.compute.schemas import (servers, keypairs, flavors, limits,
                                                    server_metadata)
    m.nova_validator = nova_validators._SchemaValidator
    # the schema each operation binds at microversion 2.1
    m.nova_body = {
        "servers.create": servers.create,          # servers.py: '2.1', '2.18'
        "servers.reboot": servers.reboot,          # servers.py _action_reboot
        "keypairs.create": keypairs.create,        # keypairs.py: "2.1", "2.1"
        "server_metadata.create": server_metadata.create,   # POST .../metadata
    }
    m.nova_query = {
        "servers.detail": servers.query_params_v21,   # '2.1', '2.25'
        "servers.index": servers.query_params_v21,
        "keypairs.index": keypairs.index_query_schema_v20,
        "keypairs.show": keypairs.show_query_schema_v20,
        "keypairs.delete": keypairs.delete_query_schema_v20,
        "flavors.detail": flavors.index_query,          # '2.0', '2.74'
        "limits.index": limits.limits_query_schema,
    }
    from nova import exception as nova_exception
    m.nova_validation_error = nova_exception.ValidationError
    # each service registers its options on oslo.config's global CONF at
    # import; give each its own, so that their names do not collide
    from oslo_config import cfg
    cfg.CONF = cfg.ConfigOpts()
    from neutron_lib.api.definitions import network, subnet, l3, port
    from neutron.extensions import securitygroup, tagging
    from neutron_lib.api import validators as neutron_validators
    from neutron_lib.api.definitions import external_net
    maps = {}
    for d in (network.RESOURCE_ATTRIBUTE_MAP, subnet.RESOURCE_ATTRIBUTE_MAP,
              l3.RESOURCE_ATTRIBUTE_MAP, securitygroup.RESOURCE_ATTRIBUTE_MAP,
              port.RESOURCE_ATTRIBUTE_MAP):
        for k, v in d.items():
            maps[k] = dict(v)
    for ext in (external_net.RESOURCE_ATTRIBUTE_MAP, securitygroup.EXTENDED_ATTRIBUTES_2_0):
        for k, v in ext.items():  # extensions' attributes of other resources
            maps.setdefault(k, {}).update(v)
    # standard attributes every Neutron resource here has (the extension
    # applies them to all standard-attr models, which needs the database:
    # stdattrs_common.stdattrs_extended_resources; the bodies are its own)
    from neutron.extensions import standardattrdescription
    for res in maps:
        maps[res].update(tagging.TAG_ATTRIBUTE_MAP)
        maps[res].update(standardattrdescription.DESCRIPTION_BODY)
    m.neutron_maps = maps
    m.neutron_validators = neutron_validators
    m.neutron_tag_validate = tagging.validate_tag
    m.neutron_max_tag_len = tagging.MAX_TAG_LEN
    import neutron_lib.version, nova.version  # noqa: F401  (versions for the README)
    return m
