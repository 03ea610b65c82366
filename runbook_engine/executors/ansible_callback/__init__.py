"""Ansible callback plugins shipped with runbook-engine (loaded by ansible-playbook,
through ANSIBLE_CALLBACK_PLUGINS, never imported by runbook-engine itself)."""
