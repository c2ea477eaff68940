"""The SNMP client of the check: fetch() in client.py, SnmpTarget in target.py,
the SnmpError family in errors.py.

Layers, each in its own module: resolve (host -> address) and transport (UDP with
a deadline); pdus and values (pysnmp's message-level API, pyasn1 BER);
community (v1/v2c messages) and usm + usm_crypto (SNMPv3 USM messages);
retrieval (which GET/GETNEXT/GETBULK requests, and what the answers mean).
Nothing is imported here: the check pays only for what a target needs.
"""
