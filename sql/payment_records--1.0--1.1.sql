/* payment_records--1.0--1.1.sql: update 1.0 to 1.1 (see CHANGELOG.md) */

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION payment_records UPDATE TO '1.1'" to load this file. \quit
