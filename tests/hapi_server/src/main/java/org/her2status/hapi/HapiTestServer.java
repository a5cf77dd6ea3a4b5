package org.her2status.hapi;

import ca.uhn.fhir.batch2.maintenance.JobMaintenanceServiceImpl;
import ca.uhn.fhir.context.FhirContext;
import ca.uhn.fhir.context.support.IValidationSupport;
import ca.uhn.fhir.jpa.api.config.JpaStorageSettings;
import ca.uhn.fhir.jpa.api.dao.IFhirSystemDao;
import ca.uhn.fhir.jpa.bulk.export.provider.BulkDataExportProvider;
import ca.uhn.fhir.jpa.config.HapiJpaConfig;
import ca.uhn.fhir.jpa.api.config.ThreadPoolFactoryConfig;
import ca.uhn.fhir.jpa.subscription.channel.config.SubscriptionChannelConfig;
import ca.uhn.fhir.jpa.batch2.JpaBatch2Config;
import ca.uhn.fhir.batch2.jobs.config.Batch2JobsConfig;
import ca.uhn.fhir.jpa.config.r4.JpaR4Config;
import ca.uhn.fhir.jpa.config.util.HapiEntityManagerFactoryUtil;
import ca.uhn.fhir.jpa.model.config.PartitionSettings;
import ca.uhn.fhir.jpa.model.dialect.HapiFhirH2Dialect;
import ca.uhn.fhir.jpa.model.sched.IHasScheduledJobs;
import ca.uhn.fhir.jpa.model.sched.ISchedulerService;
import ca.uhn.fhir.jpa.provider.JpaCapabilityStatementProvider;
import ca.uhn.fhir.jpa.provider.JpaSystemProvider;
import ca.uhn.fhir.jpa.provider.SubscriptionTriggeringProvider;
import ca.uhn.fhir.jpa.search.DatabaseBackedPagingProvider;
import ca.uhn.fhir.jpa.subscription.match.config.SubscriptionProcessorConfig;
import ca.uhn.fhir.jpa.subscription.match.deliver.email.IEmailSender;
import ca.uhn.fhir.jpa.subscription.submit.config.SubscriptionSubmitterConfig;
import ca.uhn.fhir.jpa.subscription.triggering.ISubscriptionTriggeringSvc;
import ca.uhn.fhir.rest.server.RestfulServer;
import ca.uhn.fhir.rest.server.provider.ResourceProviderFactory;
import ca.uhn.fhir.rest.server.util.ISearchParamRegistry;
import java.net.InetSocketAddress;
import java.util.EnumSet;
import java.util.Properties;
import javax.persistence.EntityManagerFactory;
import javax.servlet.DispatcherType;
import javax.sql.DataSource;
import org.apache.commons.dbcp2.BasicDataSource;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.servlet.FilterHolder;
import org.eclipse.jetty.servlet.ServletContextHandler;
import org.eclipse.jetty.servlet.ServletHolder;
import org.hl7.fhir.dstu2.model.Subscription.SubscriptionChannelType;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.beans.factory.config.ConfigurableListableBeanFactory;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.AnnotationConfigApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.Primary;
import org.springframework.orm.jpa.JpaTransactionManager;
import org.springframework.orm.jpa.LocalContainerEntityManagerFactoryBean;

/**
 * A real HAPI FHIR JPA server (R4, in-memory H2) for her2-status's integration tests.
 *
 * <p>Assembled from HAPI's own Spring configuration (JpaR4Config, HapiJpaConfig) because
 * no packaged HAPI server war is available from Maven Central. Usage: {@code PORT}.
 * Listens on 127.0.0.1 only; the FHIR base is http://127.0.0.1:PORT/fhir.
 *
 * <p>Beyond CRUD and search it serves R4 rest-hook Subscriptions (with
 * {@code $trigger-subscription}) and Bulk Data {@code $export} (system, Patient, Group).
 * It requires no authentication.
 */
public final class HapiTestServer {

  /** How often batch jobs (Bulk export) advance a step; HAPI's default is 60 s a step. */
  static final long BATCH_MAINTENANCE_MILLIS = 2000;

  private HapiTestServer() {}

  /** Application beans HAPI's configuration expects from its host. */
  @Configuration
  @Import({JpaR4Config.class, HapiJpaConfig.class, JpaBatch2Config.class, Batch2JobsConfig.class,
    SubscriptionChannelConfig.class, ThreadPoolFactoryConfig.class,
    SubscriptionSubmitterConfig.class, SubscriptionProcessorConfig.class})
  public static class AppConfig {

    @Bean
    public DataSource dataSource() {
      BasicDataSource dataSource = new BasicDataSource();
      dataSource.setDriverClassName("org.h2.Driver");
      dataSource.setUrl("jdbc:h2:mem:fhir;DB_CLOSE_DELAY=-1");
      dataSource.setUsername("sa");
      dataSource.setPassword("");
      dataSource.setMaxTotal(20);
      return dataSource;
    }

    @Bean
    public JpaStorageSettings storageSettings() {
      JpaStorageSettings settings = new JpaStorageSettings();
      // Searches must see writes at once (tests write, then search).
      settings.setReuseCachedSearchResultsForMillis(null);
      settings.setAllowExternalReferences(true);
      settings.setAllowMultipleDelete(true);
      settings.addSupportedSubscriptionType(SubscriptionChannelType.RESTHOOK);
      // Patient- and Group-level $export find a patient's resources through this index.
      settings.setIndexMissingFields(JpaStorageSettings.IndexEnabledEnum.ENABLED);
      return settings;
    }

    /** Required by the subscription processor even though no email channel is enabled. */
    @Bean
    public IEmailSender emailSender() {
      return details -> {
        throw new UnsupportedOperationException("email subscriptions are not supported");
      };
    }

    /** Shortens the batch maintenance pass before it is scheduled, so an export takes seconds. */
    @Bean
    public static BeanPostProcessor batchMaintenanceFrequency() {
      return new BeanPostProcessor() {
        @Override
        public Object postProcessBeforeInitialization(Object bean, String beanName) {
          if (bean instanceof JobMaintenanceServiceImpl maintenance) {
            maintenance.setScheduledJobFrequencyMillis(BATCH_MAINTENANCE_MILLIS);
          }
          return bean;
        }
      };
    }

    @Bean
    public PartitionSettings partitionSettings() {
      return new PartitionSettings();
    }

    @Primary
    @Bean
    public LocalContainerEntityManagerFactoryBean entityManagerFactory(
        ConfigurableListableBeanFactory beanFactory, FhirContext fhirContext, DataSource dataSource) {
      LocalContainerEntityManagerFactoryBean factory =
          HapiEntityManagerFactoryUtil.newEntityManagerFactory(beanFactory, fhirContext);
      factory.setPersistenceUnitName("HAPI_PU");
      factory.setDataSource(dataSource);
      Properties jpa = new Properties();
      jpa.put("hibernate.dialect", HapiFhirH2Dialect.class.getName());
      jpa.put("hibernate.hbm2ddl.auto", "update");
      jpa.put("hibernate.search.enabled", "false");
      jpa.put("hibernate.format_sql", "false");
      jpa.put("hibernate.show_sql", "false");
      factory.setJpaProperties(jpa);
      return factory;
    }

    @Primary
    @Bean(name = {"transactionManager", "hapiTransactionManager"})
    public JpaTransactionManager transactionManager(EntityManagerFactory entityManagerFactory) {
      return new JpaTransactionManager(entityManagerFactory);
    }
  }

  /** The FHIR endpoint: HAPI's providers; interceptors are registered here too (before return). */
  static RestfulServer restfulServer(ApplicationContext context) {
    RestfulServer fhir = new RestfulServer(context.getBean(FhirContext.class));
    fhir.registerProviders(context.getBean("myResourceProvidersR4", ResourceProviderFactory.class).createProviders());
    fhir.registerProvider(context.getBean(JpaSystemProvider.class));
    fhir.registerProvider(context.getBean(BulkDataExportProvider.class));
    fhir.registerProvider(context.getBean(SubscriptionTriggeringProvider.class));
    // The triggering service is created lazily, after the scheduler scheduled every
    // IHasScheduledJobs bean at context refresh, so its job must be scheduled by hand.
    ((IHasScheduledJobs) context.getBean(ISubscriptionTriggeringSvc.class))
        .scheduleJobs(context.getBean(ISchedulerService.class));
    fhir.setPagingProvider(context.getBean(DatabaseBackedPagingProvider.class));
    fhir.setServerConformanceProvider(new JpaCapabilityStatementProvider(
        fhir,
        context.getBean(IFhirSystemDao.class),
        context.getBean(JpaStorageSettings.class),
        context.getBean(ISearchParamRegistry.class),
        context.getBean(IValidationSupport.class)));
    return fhir;
  }

  /** Starts the server and blocks until the process is stopped. */
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    AnnotationConfigApplicationContext context = new AnnotationConfigApplicationContext(AppConfig.class);
    RestfulServer fhir = restfulServer(context);
    Server jetty = new Server(new InetSocketAddress("127.0.0.1", port));
    ServletContextHandler handler = new ServletContextHandler();
    handler.setContextPath("/");
    handler.addServlet(new ServletHolder(fhir), "/fhir/*");
    handler.addFilter(new FilterHolder(new RetryAfterFilter(BATCH_MAINTENANCE_MILLIS / 1000)),
        "/fhir/*", EnumSet.of(DispatcherType.REQUEST));
    jetty.setHandler(handler);
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      try {
        jetty.stop();
      } catch (Exception ignored) {
        // stopping anyway
      }
      context.close();
    }));
    jetty.start();
    jetty.join();
  }
}
