//! The stable ABI between routerd and its plugins (abi_stable): the only contract between them.
