//! Planted-structure tests: each checks that the truth the module docs promise is in the log.
