#!/usr/bin/env node
// Readiness probe used by scripts/stack: one attempt, exit 0 when the server
// really answers a protocol request (not just an open TCP port), 1 otherwise.
//
//   node scripts/stack-probe.cjs kafka 127.0.0.1:9092
//   node scripts/stack-probe.cjs mongo mongodb://127.0.0.1:27017/
//
// Uses kafkajs / mongodb from the repo's node_modules (CommonJS on purpose:
// package.json has "type": "module").
'use strict';

const [kind, target] = process.argv.slice(2);

async function probeKafka(broker) {
  const { Kafka, logLevel } = require('kafkajs');
  const kafka = new Kafka({
    clientId: 'runnel-stack-probe',
    brokers: [broker],
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    // describeCluster: the broker is registered; listTopics: metadata is served.
    const cluster = await admin.describeCluster();
    if (!cluster.brokers.length) throw new Error('no brokers in cluster metadata');
    await admin.listTopics();
    // Finding a group coordinator creates __consumer_offsets on a fresh broker,
    // so the first consumer group of a test does not wait for it.
    await admin.describeGroups(['runnel-stack-probe']);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

async function probeMongo(uri) {
  const { MongoClient } = require('mongodb');
  const client = new MongoClient(uri, {
    serverSelectionTimeoutMS: 2000,
    connectTimeoutMS: 2000,
    directConnection: true,
  });
  try {
    await client.connect();
    const res = await client.db('admin').command({ ping: 1 });
    if (res.ok !== 1) throw new Error(`ping answered ${JSON.stringify(res)}`);
  } finally {
    await client.close().catch(() => {});
  }
}

const probes = { kafka: probeKafka, mongo: probeMongo };

if (!probes[kind] || !target) {
  process.stderr.write('usage: stack-probe.cjs kafka HOST:PORT | mongo URI\n');
  process.exit(2);
}

probes[kind](target).then(
  () => process.exit(0),
  (err) => {
    if (process.env.RUNNEL_STACK_DEBUG) process.stderr.write(`probe ${kind}: ${err && err.message}\n`);
    process.exit(1);
  },
);
